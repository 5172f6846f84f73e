//! `keyward keys csr` and `keys rotate --csr`: a PKCS#10 certificate
//! request (RFC 2986) for a key, signed inside the token with that key,
//! whose subject and extensions are the ones of the certificate last
//! bound to the key's name, so renewing after a rotation asks the CA for
//! the same certificate with the new public key.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use cryptoki_sys::*;
use der::Encode;
use der::Tag;
use der::asn1::UintRef;
use keyward::api::{AttrRead, Mech, Out, OutCap, RawParam};
use keyward::mechanism::spki::pem;
use serde::Serialize;

use crate::Ctx;
use crate::certs_cmd::{self, KeyVersion, StoredCert, refused};
use crate::client::Client;
use crate::fail::{CliError, CliResult};
use crate::keyinfo::{KeyInfo, select_one};
use crate::output::print_json;
use crate::x509::{oid_der, parse_subject, sequence, tlv};

#[derive(Debug, Subcommand)]
pub enum CsrCmd {
    /// Write a PKCS#10 certificate request (PEM) for a key, signed in the
    /// token by that key (ECDSA P-256/P-384/P-521 with SHA-256/384/512,
    /// RSA PKCS#1 v1.5 with SHA-256, Ed25519). Subject and extensions
    /// (as an extensionRequest) come from the newest certificate of the
    /// key's name, of any version; key- and issuer-bound extensions
    /// (key identifiers, CRL/AIA locations, CT data) are left out.
    Csr {
        /// The key: a label (its primary version), id:HEX or #OBJECT_ID.
        key: String,
        /// Where to write the request (PEM).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The subject when the name has no certificate yet (or to
        /// change it): RFC 4514 ("CN=web,O=Example") or OpenSSL's form
        /// ("/O=Example/CN=web").
        #[arg(long, value_name = "DN", conflicts_with = "subject_from_cert")]
        subject: Option<String>,
        /// Require a certificate to copy the subject from (fail if the
        /// name has none) instead of accepting --subject.
        #[arg(long)]
        subject_from_cert: bool,
    },
}

pub fn run(ctx: &mut Ctx, cmd: CsrCmd) -> CliResult<()> {
    match cmd {
        CsrCmd::Csr {
            key,
            out,
            subject,
            subject_from_cert: _,
        } => {
            let mut client = certs_cmd::user_client(ctx)?;
            let target = select_one(&mut client, &key)?;
            if target.class != "private" {
                return Err(refused(format!(
                    "{} is not a private key: a certificate request is signed by one",
                    target.name()
                )));
            }
            let made = write_csr(&mut client, target.handle, &[], subject.as_deref(), &out)?;
            report(ctx.json, &made)
        }
    }
}

/// What a request was made from, as printed.
#[derive(Debug, Serialize)]
pub struct CsrMade {
    pub key: String,
    pub version: u64,
    pub out: String,
    /// Object id of the certificate subject and extensions came from.
    pub from_certificate: Option<String>,
    /// OIDs of the extensions requested.
    pub extensions: Vec<String>,
}

pub fn report(json: bool, made: &CsrMade) -> CliResult<()> {
    if json {
        return print_json(made);
    }
    let from = made.from_certificate.as_ref().map_or_else(
        || "the given subject".to_string(),
        |n| format!("certificate #{n} ({} extensions)", made.extensions.len()),
    );
    println!(
        "certificate request for {} version {} written to {} (subject from {from})",
        made.key, made.version, made.out
    );
    Ok(())
}

/// How a key type signs a request: mechanism and signatureAlgorithm.
struct Signer {
    mech: CK_MECHANISM_TYPE,
    algorithm: Vec<u8>,
    /// ECDSA answers r‖s; X.509 wants ECDSA-Sig-Value.
    ecdsa: bool,
}

fn signer(key: &KeyInfo) -> CliResult<Signer> {
    let ecdsa = |mech, oid| -> CliResult<Signer> {
        Ok(Signer {
            mech,
            algorithm: sequence(&[&oid_der(oid).map_err(CliError::failure)?])
                .map_err(CliError::failure)?,
            ecdsa: true,
        })
    };
    let der = |r: Result<Vec<u8>, String>| r.map_err(CliError::failure);
    match (key.key_type, key.curve) {
        ("ec", Some("p256")) => ecdsa(CKM_ECDSA_SHA256, "1.2.840.10045.4.3.2"),
        ("ec", Some("p384")) => ecdsa(CKM_ECDSA_SHA384, "1.2.840.10045.4.3.3"),
        ("ec", Some("p521")) => ecdsa(CKM_ECDSA_SHA512, "1.2.840.10045.4.3.4"),
        ("rsa", _) => Ok(Signer {
            mech: CKM_SHA256_RSA_PKCS,
            // sha256WithRSAEncryption, parameters NULL (RFC 4055).
            algorithm: der(sequence(&[
                &der(oid_der("1.2.840.113549.1.1.11"))?,
                &der(tlv(Tag::Null, &[]))?,
            ]))?,
            ecdsa: false,
        }),
        ("ed25519", _) => Ok(Signer {
            mech: CKM_EDDSA,
            algorithm: der(sequence(&[&der(oid_der("1.3.101.112"))?]))?,
            ecdsa: false,
        }),
        _ => Err(refused(format!(
            "{} cannot sign a certificate request (EC P-256/P-384/P-521, RSA and Ed25519 can)",
            key.name()
        ))),
    }
}

/// r‖s (each half the length) as DER SEQUENCE { INTEGER r, INTEGER s }.
fn ecdsa_sig_value(raw: &[u8]) -> CliResult<Vec<u8>> {
    let bad = || CliError::failure("the token returned a malformed ECDSA signature");
    if raw.is_empty() || !raw.len().is_multiple_of(2) {
        return Err(bad());
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let int = |v: &[u8]| UintRef::new(v).and_then(|u| u.to_der()).map_err(|_| bad());
    sequence(&[&int(r)?, &int(s)?]).map_err(CliError::failure)
}

/// Signs `data` in the token with `key`.
fn sign(
    client: &mut Client,
    key: CK_OBJECT_HANDLE,
    mech: CK_MECHANISM_TYPE,
    data: &[u8],
) -> CliResult<Vec<u8>> {
    let h = client.session()?;
    let ck = |e| CliError::ck("signing the certificate request failed", "", e);
    let m = Mech {
        ty: mech,
        param: RawParam::None,
    };
    client.lib().sign_init(h, Some(&m), key).map_err(ck)?;
    let len = match client.lib().sign(h, data, OutCap::Query).map_err(ck)? {
        Out::Len(n) => n,
        Out::Data(sig) => return Ok(sig),
    };
    match client.lib().sign(h, data, OutCap::Cap(len)).map_err(ck)? {
        Out::Data(sig) => Ok(sig),
        Out::Len(_) => Err(CliError::failure(
            "the token asked for a larger signature buffer twice",
        )),
    }
}

/// The DER CertificationRequest for `key` with `subject` and extensions.
fn build(
    client: &mut Client,
    key: &KeyInfo,
    subject: &[u8],
    extensions: &[Vec<u8>],
) -> CliResult<Vec<u8>> {
    let signer = signer(key)?;
    let spki = match client.read(key.handle, &[CKA_PUBLIC_KEY_INFO])?.first() {
        Some(AttrRead::Value(v)) if !v.is_empty() => v.clone(),
        _ => {
            return Err(CliError::failure(format!(
                "{} does not show its public key (CKA_PUBLIC_KEY_INFO)",
                key.name()
            )));
        }
    };
    let enc = |r: Result<Vec<u8>, String>| r.map_err(CliError::failure);
    let attributes = if extensions.is_empty() {
        Vec::new()
    } else {
        // extensionRequest (PKCS#9): SET { Extensions }.
        let exts = enc(sequence(
            &extensions.iter().map(Vec::as_slice).collect::<Vec<_>>(),
        ))?;
        vec![enc(sequence(&[
            &enc(oid_der("1.2.840.113549.1.9.14"))?,
            &enc(tlv(Tag::Set, &exts))?,
        ]))?]
    };
    let attributes = enc(tlv(
        Tag::ContextSpecific {
            constructed: true,
            number: der::TagNumber(0),
        },
        &attributes.concat(),
    ))?;
    let version = enc(tlv(Tag::Integer, &[0]))?;
    let info = enc(sequence(&[&version, subject, &spki, &attributes]))?;
    let raw = sign(client, key.handle, signer.mech, &info)?;
    let signature = if signer.ecdsa {
        ecdsa_sig_value(&raw)?
    } else {
        raw
    };
    // BIT STRING: no unused bits.
    let bits = enc(tlv(Tag::BitString, &[&[0u8][..], &signature].concat()))?;
    enc(sequence(&[&info, &signer.algorithm, &bits]))
}

/// The certificate the request renews from: the newest one of the key's
/// name (label or any of `extra_ids`, of any version).
pub fn renewed_from(
    client: &mut Client,
    key: &KeyVersion,
    extra_ids: &[&[u8]],
) -> CliResult<Option<StoredCert>> {
    let all = certs_cmd::all_certificates(client)?;
    let mut ids: Vec<&[u8]> = vec![key.id.as_slice()];
    ids.extend_from_slice(extra_ids);
    Ok(certs_cmd::certificates_of(&all, &key.label, &ids)
        .into_iter()
        .next())
}

/// Writes the request for private key `handle` to `out`. `extra_ids`:
/// other CKA_IDs the name had (a rotation before versions gave a new id).
pub fn write_csr(
    client: &mut Client,
    handle: CK_OBJECT_HANDLE,
    extra_ids: &[&[u8]],
    subject: Option<&str>,
    out: &Path,
) -> CliResult<CsrMade> {
    let info = crate::keyinfo::describe(client, handle)?;
    let version = certs_cmd::key_version(client, handle)?;
    let from = renewed_from(client, &version, extra_ids)?;
    let subject_der = match (subject, &from) {
        (Some(text), _) => parse_subject(text).map_err(CliError::usage)?,
        (None, Some(cert)) => cert.info.subject.clone(),
        (None, None) => {
            return Err(CliError::not_found(format!(
                "no certificate of {:?} to copy the subject from; give --subject \"CN=…\"",
                version.label
            )));
        }
    };
    let extensions: Vec<_> = from
        .iter()
        .flat_map(|c| c.info.extensions.iter())
        .filter(|e| e.renewed())
        .cloned()
        .collect();
    let ders: Vec<Vec<u8>> = extensions.iter().map(|e| e.der.clone()).collect();
    let der = build(client, &info, &subject_der, &ders)?;
    std::fs::write(out, pem("CERTIFICATE REQUEST", &der))
        .map_err(|e| CliError::failure(format!("cannot write {}: {e}", out.display())))?;
    Ok(CsrMade {
        key: version.label.clone(),
        version: version.number(),
        out: out.display().to_string(),
        from_certificate: from
            .as_ref()
            .and_then(|c| c.object_id.map(|n| n.to_string())),
        extensions: extensions.iter().map(|e| e.oid.to_string()).collect(),
    })
}

/// Before `keys rotate KEY --csr FILE` rotates: refuses (changing
/// nothing) when no request could be made afterwards, i.e. the key
/// cannot sign one or its name has no certificate to renew.
pub fn check_renewable(client: &mut Client, old: &KeyInfo) -> CliResult<()> {
    if old.class != "private" {
        return Err(refused(format!(
            "--csr needs a private key; {} is not one",
            old.name()
        )));
    }
    signer(old)?;
    let version = certs_cmd::key_version(client, old.handle)?;
    if renewed_from(client, &version, &[])?.is_none() {
        return Err(CliError::not_found(format!(
            "--csr: no certificate of {:?} to renew; rotate without --csr, then run \
             `keyward keys csr {} --subject \"CN=…\" --out FILE`",
            version.label, version.label
        )));
    }
    Ok(())
}

/// After `keys rotate KEY --csr FILE` rotated `old` into `new_key`: the
/// request for the new version.
pub fn after_rotation(
    client: &mut Client,
    json: bool,
    old: &KeyInfo,
    new_key: CK_OBJECT_HANDLE,
    out: &Path,
) -> CliResult<()> {
    let made = write_csr(client, new_key, &[old.raw_id.as_slice()], None, out).map_err(|e| {
        CliError::new(
            e.code,
            format!(
                "the key was rotated, but its certificate request was not written: {}; \
                 run `keyward keys csr` for the new version",
                e.message
            ),
        )
    })?;
    if json {
        // Standard output carries the rotation's JSON.
        return Ok(());
    }
    report(false, &made)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecdsa_signatures_become_der_integers() {
        // r has its high bit set (needs a 0x00), s has leading zeros.
        let mut raw = vec![0x80; 32];
        raw.extend([0u8; 31]);
        raw.push(0x05);
        let der = ecdsa_sig_value(&raw).unwrap();
        assert_eq!(&der[..4], &[0x30, 0x26, 0x02, 0x21]);
        assert_eq!(der[4], 0x00);
        assert_eq!(&der[der.len() - 3..], &[0x02, 0x01, 0x05]);
        assert!(ecdsa_sig_value(&[1, 2, 3]).is_err());
    }
}
