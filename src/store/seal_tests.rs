//! Tests of `seal.rs`: PIN wrapping (both versions), sealing (both
//! versions) with tamper and swap cases, key steps, lookup tags, audit key
//! and backup sealing.
use super::*;
use hmac::{Hmac, KeyInit, Mac};

const ITER: u32 = 1000;

#[test]
fn debug_redacts() {
    let mk = MasterKey::generate().unwrap();
    assert_eq!(format!("{mk:?}"), "MasterKey(..)");
    let rec = wrap_master_key(&mk, b"1234", 1, ITER).unwrap();
    let dbg = format!("{rec:?}");
    assert!(dbg.contains("wrapped_len: 93"), "{dbg}");
}

#[test]
fn generate_is_random() {
    let a = MasterKey::generate().unwrap();
    let b = MasterKey::generate().unwrap();
    assert_ne!(a.key, b.key);
    assert_ne!(a.index_key, b.index_key);
    assert_eq!(a.index_key[KEY_LEN..], [0u8; KEY_LEN]);
}

#[test]
fn wrap_unwrap_round_trip() {
    let mk = MasterKey::generate().unwrap();
    let rec = wrap_master_key(&mk, b"user-pin", 1, ITER).unwrap();
    assert_eq!(rec.salt.len(), SALT_LEN);
    assert_eq!(rec.iterations, ITER);
    assert_eq!(rec.wrapped.len(), WRAPPED_LEN_V2);
    assert_eq!(rec.wrapped[0], SEAL_VERSION_2);
    let back = unwrap_master_key(b"user-pin", 1, &rec).unwrap();
    assert_eq!(back.key, mk.key);
    assert_eq!(back.index_key, mk.index_key);
}

#[test]
fn wrong_pin_or_role_is_pin_incorrect() {
    let mk = MasterKey::generate().unwrap();
    let rec = wrap_master_key(&mk, b"user-pin", 1, ITER).unwrap();
    assert_eq!(
        unwrap_master_key(b"user-pio", 1, &rec).unwrap_err(),
        Error::PinIncorrect
    );
    assert_eq!(
        unwrap_master_key(b"user-pin", 0, &rec).unwrap_err(),
        Error::PinIncorrect
    );
    let mut other_salt = rec.clone();
    other_salt.salt[0] ^= 1;
    assert_eq!(
        unwrap_master_key(b"user-pin", 1, &other_salt).unwrap_err(),
        Error::PinIncorrect
    );
}

#[test]
fn malformed_pin_record_is_tampered() {
    let mk = MasterKey::generate().unwrap();
    let rec = wrap_master_key(&mk, b"pin", 0, ITER).unwrap();
    let mut bad = rec.clone();
    bad.wrapped.pop();
    assert_eq!(
        unwrap_master_key(b"pin", 0, &bad).unwrap_err(),
        Error::Tampered
    );
    let mut bad = rec.clone();
    bad.wrapped[0] = 1;
    assert_eq!(
        unwrap_master_key(b"pin", 0, &bad).unwrap_err(),
        Error::Tampered
    );
    let mut bad = rec.clone();
    bad.iterations = 0;
    assert_eq!(
        unwrap_master_key(b"pin", 0, &bad).unwrap_err(),
        Error::Tampered
    );
    let mut bad = rec.clone();
    bad.iterations = MAX_ITERATIONS + 1;
    assert_eq!(
        unwrap_master_key(b"pin", 0, &bad).unwrap_err(),
        Error::Tampered
    );
    let mut bad = rec;
    bad.salt.clear();
    assert_eq!(
        unwrap_master_key(b"pin", 0, &bad).unwrap_err(),
        Error::Tampered
    );
    assert_eq!(
        wrap_master_key(&mk, b"pin", 0, 0).unwrap_err(),
        Error::ArgumentsBad
    );
}

fn sealed() -> (MasterKey, [u8; 32], Vec<u8>) {
    let mk = MasterKey::generate().unwrap();
    let digest = public_digest(b"public attrs");
    let blob = seal_object(&mk, 42, 3, &digest, b"secret value").unwrap();
    (mk, digest, blob)
}

#[test]
fn seal_round_trip() {
    let (mk, digest, blob) = sealed();
    assert_eq!(blob.len(), 1 + NONCE_LEN + 12 + TAG_LEN);
    assert_eq!(blob[0], SEAL_VERSION);
    let plain = unseal_object(&mk, 42, 3, &digest, &blob).unwrap();
    assert_eq!(plain.as_slice(), b"secret value");
    let empty = seal_object(&mk, 1, 0, &digest, b"").unwrap();
    assert!(
        unseal_object(&mk, 1, 0, &digest, &empty)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn every_flipped_byte_is_tampered() {
    let (mk, digest, blob) = sealed();
    for i in 0..blob.len() {
        let mut bad = blob.clone();
        bad[i] ^= 0x01;
        assert_eq!(
            unseal_object(&mk, 42, 3, &digest, &bad).unwrap_err(),
            Error::Tampered,
            "byte {i}"
        );
    }
    for n in 0..blob.len() {
        assert_eq!(
            unseal_object(&mk, 42, 3, &digest, &blob[..n]).unwrap_err(),
            Error::Tampered
        );
    }
}

#[test]
fn swapped_context_is_tampered() {
    let (mk, digest, blob) = sealed();
    let other_digest = public_digest(b"edited attrs");
    let other_mk = MasterKey::generate().unwrap();
    let cases = [
        unseal_object(&mk, 43, 3, &digest, &blob),
        unseal_object(&mk, 42, 4, &digest, &blob),
        unseal_object(&mk, 42, 3, &other_digest, &blob),
        unseal_object(&other_mk, 42, 3, &digest, &blob),
    ];
    for case in cases {
        assert_eq!(case.unwrap_err(), Error::Tampered);
    }
}

#[test]
fn lookup_tags() {
    let mk = MasterKey::generate().unwrap();
    let t = lookup_tag(&mk, 3, b"label");
    assert_eq!(t.len(), 32);
    assert_eq!(t, lookup_tag(&mk.clone(), 3, b"label"));
    assert_ne!(t, lookup_tag(&mk, 0x102, b"label"));
    assert_ne!(t, lookup_tag(&mk, 3, b"labem"));
    assert_ne!(t, lookup_tag(&MasterKey::generate().unwrap(), 3, b"label"));
    // Same as HMAC keyed with the unpadded 32-byte HKDF output.
    let mut plain = <Hmac<Sha256> as KeyInit>::new_from_slice(&mk.index_key[..KEY_LEN]).unwrap();
    plain.update(&3u64.to_le_bytes());
    plain.update(b"label");
    assert_eq!(t, plain.finalize().into_bytes().to_vec());
}

#[test]
fn public_digest_is_sha256() {
    let d = public_digest(b"abc");
    assert_eq!(d[..4], [0xba, 0x78, 0x16, 0xbf]);
}

#[test]
fn audit_key_wrap_and_mac() {
    let mk = MasterKey::generate().unwrap();
    let other = MasterKey::generate().unwrap();
    let key = AuditKey::generate().unwrap();
    let wrapped = key.wrap(&mk).unwrap();
    let back = AuditKey::unwrap(&mk, &wrapped).unwrap();
    assert_eq!(
        AuditKey::unwrap(&other, &wrapped).unwrap_err(),
        Error::Tampered
    );
    let h = audit_chain(&[0; 32], 1, b"body");
    assert_ne!(h, audit_chain(&[0; 32], 2, b"body"));
    assert_ne!(h, audit_chain(&[1; 32], 1, b"body"));
    assert_ne!(h, audit_chain(&[0; 32], 1, b"bodY"));
    let tag = key.mac(&h);
    assert!(back.verify(&h, &tag));
    assert!(!back.verify(&audit_chain(&[0; 32], 2, b"body"), &tag));
    assert!(!AuditKey::generate().unwrap().verify(&h, &tag));
    assert_eq!(format!("{key:?}"), "AuditKey(..)");
    assert_eq!(fingerprint(b"x").len(), 32);
}

#[test]
fn backup_seal_round_trip_and_failures() {
    let salt = backup_salt().unwrap();
    assert_ne!(salt, backup_salt().unwrap());
    let blob = seal_backup(b"pass", ITER, &salt, b"header", b"database").unwrap();
    assert_eq!(blob.len(), 8 + BACKUP_OVERHEAD);
    let plain = open_backup(b"pass", ITER, &salt, b"header", &blob).unwrap();
    assert_eq!(plain.as_slice(), b"database");
    let mut other_salt = salt;
    other_salt[0] ^= 1;
    let cases = [
        open_backup(b"pasz", ITER, &salt, b"header", &blob),
        open_backup(b"pass", ITER + 1, &salt, b"header", &blob),
        open_backup(b"pass", ITER, &other_salt, b"header", &blob),
        open_backup(b"pass", ITER, &salt, b"headex", &blob),
        open_backup(b"pass", ITER, &salt, b"header", &blob[..blob.len() - 1]),
    ];
    for case in cases {
        assert_eq!(case.unwrap_err(), Error::Tampered);
    }
    for i in 0..blob.len() {
        let mut bad = blob.clone();
        bad[i] ^= 0x80;
        assert_eq!(
            open_backup(b"pass", ITER, &salt, b"header", &bad).unwrap_err(),
            Error::Tampered,
            "byte {i}"
        );
    }
    for iterations in [0, MAX_ITERATIONS + 1] {
        assert_eq!(
            open_backup(b"pass", iterations, &salt, b"header", &blob).unwrap_err(),
            Error::ArgumentsBad
        );
        assert_eq!(
            seal_backup(b"pass", iterations, &salt, b"h", b"p").unwrap_err(),
            Error::ArgumentsBad
        );
    }
    assert_eq!(
        open_backup(b"pass", ITER, &salt[..8], b"header", &blob).unwrap_err(),
        Error::ArgumentsBad
    );
}

#[test]
fn version_1_pin_records_still_open() {
    let mk = MasterKey::generate().unwrap();
    let salt = vec![7u8; SALT_LEN];
    let kek = pin_kek(b"pin", &salt, ITER).unwrap();
    let wrapped = seal_with(&kek, &mk_aad(1), &mk.key).unwrap();
    assert_eq!(wrapped.len(), WRAPPED_LEN);
    let rec = PinRecord {
        salt,
        iterations: ITER,
        wrapped,
    };
    let back = unwrap_master_key(b"pin", 1, &rec).unwrap();
    assert_eq!((back.key, back.index_key), (mk.key, mk.index_key));
}

#[test]
fn rotation_keeps_the_index_key_only() {
    let mk = MasterKey::generate().unwrap();
    let next = mk.rotated().unwrap();
    assert_ne!(next.key, mk.key);
    assert_eq!(lookup_tag(&next, 3, b"label"), lookup_tag(&mk, 3, b"label"));
    // Both halves survive a PIN record.
    let rec = wrap_master_key(&next, b"pin", 0, ITER).unwrap();
    let back = unwrap_master_key(b"pin", 0, &rec).unwrap();
    assert_eq!((back.key, back.index_key), (next.key, next.index_key));
}

#[test]
fn steps_are_bound_to_epochs_and_direction() {
    let old = MasterKey::generate().unwrap();
    let new = old.rotated().unwrap();
    let w = wrap_step(&old, StepDirection::Next, 1, 2, &new).unwrap();
    let back = unwrap_step(&old, StepDirection::Next, 1, 2, &w).unwrap();
    assert_eq!((back.key, back.index_key), (new.key, new.index_key));
    let cases = [
        unwrap_step(&old, StepDirection::Previous, 1, 2, &w),
        unwrap_step(&old, StepDirection::Next, 2, 1, &w),
        unwrap_step(&old, StepDirection::Next, 1, 3, &w),
        unwrap_step(&new, StepDirection::Next, 1, 2, &w),
    ];
    for case in cases {
        assert_eq!(case.unwrap_err(), Error::Tampered);
    }
}

#[test]
fn version_2_blobs_name_their_key_epoch() {
    let mk = MasterKey::generate().unwrap();
    let digest = public_digest(b"public attrs");
    let blob = seal_object_at(&mk, -5, 42, 3, &digest, b"secret").unwrap();
    assert_eq!(blob[0], SEAL_VERSION_2);
    assert_eq!(blob_key_epoch(&blob), Ok(Some(-5)));
    let plain = unseal_object(&mk, 42, 3, &digest, &blob).unwrap();
    assert_eq!(plain.as_slice(), b"secret");
    // The named epoch is authenticated.
    let mut other = blob.clone();
    other[1] ^= 1;
    assert_eq!(blob_key_epoch(&other), Ok(Some(-5 ^ 1)));
    assert_eq!(
        unseal_object(&mk, 42, 3, &digest, &other).unwrap_err(),
        Error::Tampered
    );
    let v1 = seal_object(&mk, 42, 3, &digest, b"secret").unwrap();
    assert_eq!(blob_key_epoch(&v1), Ok(None));
    assert_eq!(blob_key_epoch(&[3, 0]), Err(Error::Tampered));
    assert_eq!(blob_key_epoch(&[2, 0]), Err(Error::Tampered));
    assert_eq!(blob_key_epoch(&[]), Err(Error::Tampered));
}

/// Blobs written by the code before the provider seam (RustCrypto called
/// from this file directly), for master key 0x42…: the on-disk format
/// did not change, so they open in this build, whichever provider it
/// has (the aws-lc build runs this test too: a token written by the
/// default build opens there). The deterministic values (index key,
/// lookup tag, audit MACs) must be byte-identical.
mod format_fixtures {
    pub const SALT: &str = "ee43bf1f40d948bf038f9b2505098601";
    pub const PIN: &str = "02c48bd74e437065af20986c57f65aaef664f5c64e931ee896770f9029219bca\
        8672ce2d1f3d8640af10787b8f8f6a1fd160b11d30867aba35a08ee3eaa60fedccc704cb2ab46ae0aad\
        0752e6679ed62ffeaaab3791be022b61249f4a1";
    pub const OBJECT: &str = "0203000000000000008f8bfc6300cd2be868d2f6f5b6180b997fad70d203a1de\
        4f2de5e15fc8d59f4fd64f224bb4d3e6c9";
    pub const TAG: &str = "efcbadf1adb6e9bb06853734ae9a15f2cd15ed3be5d2f5bc05fc798ffe4ca9f3";
    pub const INDEX: &str = "102718e79957977b22947836530f7386d4c66095930711969523258707c9533e";
    pub const AUDIT: &str = "010f4eb7df86bb384e4df1608cbe4bf70728fa72c0b99e07634fe5a2e851fd25\
        da8922c54d9913d29c2d24ef9c68013042d75e5b985b53bb487f9c48af";
    pub const MAC: &str = "243afb87a7386e6faec6b8970db0ad5856f58b4440eedc0739db624dc879a156";
    pub const ANCHOR: &str = "2fc044699f3241187d41797a303d9e0c4385e343d05b56df243f90f98eb9a6ff";
    pub const STEP: &str = "01fe8dffad440a2c14c619bf03a0f9db9015742ca60f17a4b51c7d73edf4875a\
        c0b77cf4926d48baa9c453d85cb35757e81e40372f733f2f0a9e7865d8f2fe578ce47142d9250d24b55b\
        36d506f03a54ce970cac6d61cbc0df741381b5";
    pub const BACKUP: &str = "010a57e1d255cd421d621445c9dada42496e2375bd11178fab864fa4215ad2a6\
        d7feeae5";
}

#[test]
fn blobs_from_before_the_provider_seam_open() {
    use crate::test_util::unhex;
    use format_fixtures as f;
    let mk = MasterKey::from_bytes(&[0x42; 32]).unwrap();
    assert_eq!(&mk.index_key[..KEY_LEN], &unhex(f::INDEX)[..]);
    assert!(mk.index_key[KEY_LEN..].iter().all(|&b| b == 0));
    let rec = PinRecord {
        salt: unhex(f::SALT),
        iterations: ITER,
        wrapped: unhex(f::PIN),
    };
    let opened = unwrap_master_key(b"fixture-pin", 1, &rec).unwrap();
    assert_eq!(opened.key, mk.key);
    assert_eq!(opened.index_key, mk.index_key);
    assert_eq!(
        unwrap_master_key(b"fixture-pim", 1, &rec).unwrap_err(),
        Error::PinIncorrect
    );
    let object = unhex(f::OBJECT);
    assert_eq!(blob_key_epoch(&object).unwrap(), Some(3));
    assert_eq!(
        &unseal_object(&mk, 17, 3, &[9; 32], &object).unwrap()[..],
        b"secret attrs"
    );
    assert_eq!(
        unseal_object(&mk, 18, 3, &[9; 32], &object).unwrap_err(),
        Error::Tampered
    );
    assert_eq!(lookup_tag(&mk, 3, b"label"), unhex(f::TAG));
    let audit = AuditKey::unwrap(&mk, &unhex(f::AUDIT)).unwrap();
    assert_eq!(audit.0, [5; 32]);
    assert_eq!(audit.mac(&[6; 32]), unhex(f::MAC));
    assert!(audit.verify(&[6; 32], &unhex(f::MAC)));
    assert_eq!(audit.anchor_mac(12, &[6; 32]), unhex(f::ANCHOR));
    assert!(audit.verify_anchor(12, &[6; 32], &unhex(f::ANCHOR)));
    assert!(!audit.verify_anchor(13, &[6; 32], &unhex(f::ANCHOR)));
    let next = unwrap_step(&mk, StepDirection::Next, 1, 2, &unhex(f::STEP)).unwrap();
    assert_eq!(next.key, [0x43; 32]);
    assert_eq!(
        &open_backup(b"passphrase", ITER, &[1; 16], b"header", &unhex(f::BACKUP)).unwrap()[..],
        b"payload"
    );
    // And what this build writes opens again (in the other build too:
    // the provider tests seal with one provider and open with the other).
    let rec = wrap_master_key(&mk, b"fixture-pin", 1, ITER).unwrap();
    assert_eq!(rec.wrapped.len(), unhex(f::PIN).len());
    assert_eq!(
        unwrap_master_key(b"fixture-pin", 1, &rec).unwrap().key,
        mk.key
    );
}
