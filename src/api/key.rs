//! Key generation: C_GenerateKey and C_GenerateKeyPair.

use cryptoki_sys::*;

use super::provenance::{Provenance, refused};
use super::{Attr, Library, Mech};
use crate::audit::Event;
use crate::error::{Error, Result};
use crate::lifecycle::vendor::CKW_ORIGIN_GENERATED;
use crate::mechanism::{self, Mechanism};
use crate::object::{self, Object, template::GeneratedPair, template::KeyPairRequest};
use crate::session::Session;
use crate::token::Login;
use crate::token::Token;

impl Library {
    pub fn generate_key(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mech,
        template: &[Attr],
    ) -> Result<CK_OBJECT_HANDLE> {
        self.with_session(h, |s, token| {
            let m = Mechanism::from_raw(mech.ty, &mech.param)?;
            let mut template = object::attrs::parse_template(template)?;
            super::object::default_private(token, &mut template)?;
            let p = Provenance::new(
                "generate",
                CKW_ORIGIN_GENERATED,
                Some(m.mech),
                &mut template,
            )?;
            if object::domain::domain_key_type(m.mech).is_some() {
                return self.generate_domain_parameters(s, token, &m, &template, &p);
            }
            let request = object::template::secret_key_request(m.mech, &template)?;
            // PBKDF2 "generates" the key from the password in its parameter.
            let value = if m.mech == CKM_PKCS5_PBKD2 {
                mechanism::kdf::pbkdf2(&m, request.len)?
            } else {
                mechanism::generate_secret(request.len)?
            };
            let so = token.login_role()? == Login::So;
            let obj =
                object::template::generated_secret_key(&template, &request, m.mech, value, so)?;
            self.add_object(s, token, obj, &p)
        })
    }

    pub fn generate_key_pair(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mech,
        public_template: &[Attr],
        private_template: &[Attr],
    ) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)> {
        self.with_session(h, |s, token| {
            let m = Mechanism::from_raw(mech.ty, &mech.param)?;
            let mut public = object::attrs::parse_template(public_template)?;
            let mut private = object::attrs::parse_template(private_template)?;
            super::object::default_private(token, &mut private)?;
            let pub_p =
                Provenance::new("generate", CKW_ORIGIN_GENERATED, Some(m.mech), &mut public)?;
            let priv_p =
                Provenance::new("generate", CKW_ORIGIN_GENERATED, Some(m.mech), &mut private)?;
            // The policy's size floor comes before the generator's own
            // range, so a weak request is refused (and audited) as policy.
            if m.mech == CKM_RSA_PKCS_KEY_PAIR_GEN
                && let Some(bits) = public
                    .get(&CKA_MODULUS_BITS)
                    .and_then(|v| object::attrs::decode_u64(v))
            {
                token
                    .lifecycle
                    .check_rsa_bits(bits)
                    .map_err(|r| refused(token, &priv_p.event, None, r))?;
            }
            // DSA generation and the DH prime floor are policy too.
            let prime_bits = public
                .get(&CKA_PRIME)
                .map(|p| u64::from(mechanism::dsa::bit_len(p)));
            token
                .lifecycle
                .check_generation(m.mech, prime_bits)
                .map_err(|r| refused(token, &priv_p.event, None, r))?;
            let parts = match object::template::key_pair_request(m.mech, &public, &private)? {
                KeyPairRequest::Ec { ec_params } => {
                    GeneratedPair::Ec(mechanism::generate_ec(&ec_params)?)
                }
                KeyPairRequest::Edwards { ec_params } => {
                    GeneratedPair::Edwards(mechanism::generate_edwards(&ec_params)?)
                }
                KeyPairRequest::Montgomery { ec_params } => {
                    GeneratedPair::Montgomery(mechanism::generate_montgomery(&ec_params)?)
                }
                KeyPairRequest::Rsa {
                    bits,
                    public_exponent,
                } => GeneratedPair::Rsa(mechanism::generate_rsa(bits, &public_exponent)?),
                KeyPairRequest::MlDsa { parameter_set } => {
                    GeneratedPair::MlDsa(mechanism::generate_ml_dsa(parameter_set)?)
                }
                KeyPairRequest::SlhDsa { parameter_set } => {
                    GeneratedPair::SlhDsa(mechanism::generate_slh_dsa(parameter_set)?)
                }
                KeyPairRequest::MlKem { set } => {
                    let (seed, ek) = mechanism::ml_kem::generate(set)?;
                    GeneratedPair::MlKem { set, seed, ek }
                }
                KeyPairRequest::Dsa { p, q, g } => {
                    GeneratedPair::FiniteField(mechanism::dsa::generate_pair(&p, &q, &g)?)
                }
                KeyPairRequest::Dh { p, g, value_bits } => {
                    GeneratedPair::FiniteField(mechanism::dh::generate_pair(&p, &g, value_bits)?)
                }
            };
            let so = token.login_role()? == Login::So;
            let (pub_obj, priv_obj) =
                object::template::generated_key_pair(&public, &private, parts, m.mech, so)?;
            // Check both before storing either, so a refusal leaves nothing.
            super::object::check_write(s, token, &pub_obj)?;
            super::object::check_write(s, token, &priv_obj)?;
            let pub_obj = self.prepare(token, pub_obj, &pub_p)?;
            let priv_obj = self.prepare(token, priv_obj, &priv_p)?;
            self.store_pair(s, token, (pub_obj, &pub_p.event), (priv_obj, &priv_p.event))
        })
    }

    /// C_GenerateKey with CKM_DSA_PARAMETER_GEN or
    /// CKM_DH_PKCS_PARAMETER_GEN: a domain parameter object.
    fn generate_domain_parameters(
        &self,
        s: &Session,
        token: &Token,
        m: &Mechanism,
        template: &object::AttrMap,
        p: &Provenance,
    ) -> Result<CK_OBJECT_HANDLE> {
        let bits = template
            .get(&CKA_PRIME_BITS)
            .and_then(|v| object::attrs::decode_u64(v));
        token
            .lifecycle
            .check_generation(m.mech, bits)
            .map_err(|r| refused(token, &p.event, None, r))?;
        let request = object::domain::domain_request(m.mech, template)?;
        let values: Vec<Vec<u8>> = if request.key_type == CKK_DSA {
            mechanism::dsa::generate_parameters(request.bits)?.to_vec()
        } else {
            mechanism::dh::generate_parameters(request.bits)?.to_vec()
        };
        let so = token.login_role()? == Login::So;
        let obj =
            object::domain::generated_domain_parameters(template, &request, m.mech, &values, so)?;
        self.add_object(s, token, obj, p)
    }

    /// Stores a generated pair. Two token objects go in ONE transaction
    /// (both rows and both audit records), so a crash or kill never leaves
    /// half a pair; a session half never touches the store, so it is only
    /// made once the token half (if any) is stored.
    fn store_pair(
        &self,
        s: &Session,
        token: &Token,
        public: (Object, &Event),
        private: (Object, &Event),
    ) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)> {
        let (pub_obj, pub_ev) = public;
        let (priv_obj, priv_ev) = private;
        if !(pub_obj.is_token() && priv_obj.is_token()) {
            // At most one row: already atomic. The token half first, so a
            // failure leaves no session object behind either.
            return if pub_obj.is_token() {
                let pub_h = self.store(s, token, pub_obj, pub_ev)?;
                Ok((pub_h, self.store(s, token, priv_obj, priv_ev)?))
            } else {
                let priv_h = self.store(s, token, priv_obj, priv_ev)?;
                Ok((self.store(s, token, pub_obj, pub_ev)?, priv_h))
            };
        }
        let ids = token.insert_many(&[(&pub_obj, pub_ev), (&priv_obj, priv_ev)])?;
        let [pub_id, priv_id] = ids[..] else {
            return Err(Error::GeneralError);
        };
        let mut handles = self.handles()?;
        let pub_h = handles.token_handle(s.token, pub_id, || self.new_handle());
        let priv_h = handles.token_handle(s.token, priv_id, || self.new_handle());
        Ok((pub_h, priv_h))
    }
}
