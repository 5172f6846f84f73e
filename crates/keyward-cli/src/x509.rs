//! Just enough X.509 and DER for certificate renewal in the CLI: reading
//! a certificate's subject, validity, public key and extensions, writing
//! DER TLVs, and parsing a `--subject` distinguished name. The `der`
//! crate does the encoding rules; the shapes (RFC 5280, RFC 2986) are here.

use der::asn1::{AnyRef, GeneralizedTime, ObjectIdentifier, UtcTime};
use der::{Decode, Encode, Reader, SliceReader, Tag, TagNumber, Tagged};
use time::OffsetDateTime;

/// What renewal needs from one certificate. Byte fields are whole DER
/// elements (tag, length, value), ready to be copied into a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// The subject Name.
    pub subject: Vec<u8>,
    /// The SubjectPublicKeyInfo.
    pub spki: Vec<u8>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// Each Extension, in certificate order.
    pub extensions: Vec<Extension>,
}

/// One X.509 extension: its OID and its whole DER element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    pub oid: ObjectIdentifier,
    pub der: Vec<u8>,
}

/// Extensions that describe the old key or the old issuance, not the
/// subject: a request for a new key must not carry them (a CA copying
/// request extensions would otherwise certify the wrong key identifier,
/// issuer or CT proofs).
const NOT_RENEWED: [&str; 7] = [
    "2.5.29.14",               // subjectKeyIdentifier
    "2.5.29.35",               // authorityKeyIdentifier
    "2.5.29.31",               // cRLDistributionPoints
    "2.5.29.46",               // freshestCRL
    "1.3.6.1.5.5.7.1.1",       // authorityInfoAccess
    "1.3.6.1.4.1.11129.2.4.2", // CT SCT list
    "1.3.6.1.4.1.11129.2.4.3", // CT precertificate poison
];

impl Extension {
    /// Whether a renewal request carries this extension over.
    pub fn renewed(&self) -> bool {
        let oid = self.oid.to_string();
        !NOT_RENEWED.contains(&oid.as_str())
    }
}

/// One DER element: its tag, the whole element, and its contents.
type Element<'a> = (Tag, Vec<u8>, &'a [u8]);

/// The elements of a constructed DER value.
fn elements(contents: &[u8]) -> der::Result<Vec<Element<'_>>> {
    let mut reader = SliceReader::new(contents)?;
    let mut out = Vec::new();
    while !reader.is_finished() {
        let any = AnyRef::decode(&mut reader)?;
        out.push((any.tag(), any.to_der()?, any.value()));
    }
    Ok(out)
}

fn context(n: u32) -> Tag {
    Tag::ContextSpecific {
        constructed: true,
        number: TagNumber(n),
    }
}

fn time_of(tag: Tag, whole: &[u8]) -> Option<OffsetDateTime> {
    let since_epoch = match tag {
        Tag::UtcTime => UtcTime::from_der(whole).ok()?.to_unix_duration(),
        Tag::GeneralizedTime => GeneralizedTime::from_der(whole).ok()?.to_unix_duration(),
        _ => return None,
    };
    let secs = i64::try_from(since_epoch.as_secs()).ok()?;
    OffsetDateTime::from_unix_timestamp(secs).ok()
}

/// Reads a DER X.509 certificate.
pub fn parse_certificate(der: &[u8]) -> Result<CertInfo, String> {
    let bad = |what: &str| format!("malformed certificate: {what}");
    let outer = AnyRef::from_der(der).map_err(|_| bad("not one DER element"))?;
    let top = elements(outer.value()).map_err(|_| bad("outer SEQUENCE"))?;
    let Some((Tag::Sequence, _, tbs)) = top.first() else {
        return Err(bad("no TBSCertificate"));
    };
    let mut fields = elements(tbs).map_err(|_| bad("TBSCertificate"))?;
    if fields.first().is_some_and(|(t, _, _)| *t == context(0)) {
        fields.remove(0);
    }
    let [
        (Tag::Integer, _, _),
        (Tag::Sequence, _, _),
        (Tag::Sequence, _, _),
        (Tag::Sequence, _, validity),
        (Tag::Sequence, subject, _),
        (Tag::Sequence, spki, _),
        rest @ ..,
    ] = fields.as_slice()
    else {
        return Err(bad("TBSCertificate fields"));
    };
    let times = elements(validity).map_err(|_| bad("validity"))?;
    let [(t1, w1, _), (t2, w2, _)] = times.as_slice() else {
        return Err(bad("validity"));
    };
    let not_before = time_of(*t1, w1).ok_or_else(|| bad("notBefore"))?;
    let not_after = time_of(*t2, w2).ok_or_else(|| bad("notAfter"))?;
    let mut extensions = Vec::new();
    if let Some((_, _, wrapped)) = rest.iter().find(|(t, _, _)| *t == context(3)) {
        let seq = AnyRef::from_der(wrapped).map_err(|_| bad("extensions"))?;
        for (tag, whole, contents) in elements(seq.value()).map_err(|_| bad("extensions"))? {
            let parts = elements(contents).map_err(|_| bad("extension"))?;
            let oid = match parts.first() {
                Some((Tag::ObjectIdentifier, w, _)) if tag == Tag::Sequence => {
                    ObjectIdentifier::from_der(w).map_err(|_| bad("extension OID"))?
                }
                _ => return Err(bad("extension")),
            };
            extensions.push(Extension { oid, der: whole });
        }
    }
    Ok(CertInfo {
        subject: subject.clone(),
        spki: spki.clone(),
        not_before,
        not_after,
        extensions,
    })
}

/// One DER element: `tag` around `contents`.
pub fn tlv(tag: Tag, contents: &[u8]) -> Result<Vec<u8>, String> {
    AnyRef::new(tag, contents)
        .and_then(|a| a.to_der())
        .map_err(|e| format!("cannot encode DER: {e}"))
}

/// A SEQUENCE of already encoded elements.
pub fn sequence(parts: &[&[u8]]) -> Result<Vec<u8>, String> {
    tlv(Tag::Sequence, &parts.concat())
}

/// The DER of an OID given as text (our own constants).
pub fn oid_der(oid: &str) -> Result<Vec<u8>, String> {
    ObjectIdentifier::new(oid)
        .map_err(|e| format!("bad OID {oid}: {e}"))?
        .to_der()
        .map_err(|e| format!("cannot encode DER: {e}"))
}

/// The attribute types a `--subject` may name, with their string tag
/// (RFC 5280 Appendix A: country and serial number are PrintableString,
/// e-mail and DC IA5String, the rest UTF8String).
fn attribute_type(name: &str) -> Option<(&'static str, Tag)> {
    Some(match name.to_ascii_uppercase().as_str() {
        "CN" => ("2.5.4.3", Tag::Utf8String),
        "SERIALNUMBER" => ("2.5.4.5", Tag::PrintableString),
        "C" => ("2.5.4.6", Tag::PrintableString),
        "L" => ("2.5.4.7", Tag::Utf8String),
        "ST" => ("2.5.4.8", Tag::Utf8String),
        "O" => ("2.5.4.10", Tag::Utf8String),
        "OU" => ("2.5.4.11", Tag::Utf8String),
        "EMAILADDRESS" => ("1.2.840.113549.1.9.1", Tag::Ia5String),
        "DC" => ("0.9.2342.19200300.100.1.25", Tag::Ia5String),
        _ => return None,
    })
}

/// Splits on unescaped `sep`; `\x` stands for `x`.
fn split_escaped(text: &str, sep: char) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(next), Some(last)) = (chars.next(), parts.last_mut()) {
                    last.push(next);
                }
            }
            c if c == sep => parts.push(String::new()),
            c => {
                if let Some(last) = parts.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    parts
}

/// Parses a distinguished name into a DER Name: RFC 4514 form
/// (`CN=web,O=Example,C=DE`, most specific first) or OpenSSL's `-subj`
/// form (`/C=DE/O=Example/CN=web`). One attribute per RDN; `\` escapes.
pub fn parse_subject(text: &str) -> Result<Vec<u8>, String> {
    let (parts, reversed) = match text.strip_prefix('/') {
        Some(rest) => (split_escaped(rest, '/'), false),
        None => (split_escaped(text, ','), true),
    };
    let mut rdns = Vec::new();
    for part in &parts {
        let (name, value) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?} in the subject is not TYPE=VALUE"))?;
        let value = value.trim();
        let name = name.trim();
        let (oid, tag) = attribute_type(name).ok_or_else(|| {
            format!(
                "unknown attribute type {name:?} in the subject \
                 (known: CN, O, OU, L, ST, C, serialNumber, emailAddress, DC)"
            )
        })?;
        if value.is_empty() {
            return Err(format!("{name} has an empty value in the subject"));
        }
        if tag != Tag::Utf8String && !value.is_ascii() {
            return Err(format!("{name} must be ASCII in the subject"));
        }
        let atv = sequence(&[&oid_der(oid)?, &tlv(tag, value.as_bytes())?])?;
        rdns.push(tlv(Tag::Set, &atv)?);
    }
    if reversed {
        rdns.reverse();
    }
    tlv(Tag::Sequence, &rdns.concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_in_both_orders_agree() {
        let a = parse_subject("CN=web.example,O=Example\\, Inc.,C=DE").unwrap();
        let b = parse_subject("/C=DE/O=Example, Inc./CN=web.example").unwrap();
        assert_eq!(a, b);
        // The first RDN of the sequence is the country.
        let name = AnyRef::from_der(&a).unwrap();
        let rdns = elements(name.value()).unwrap();
        assert_eq!(rdns.len(), 3);
        assert!(rdns[0].2.windows(2).any(|w| w == b"DE"));
        assert!(parse_subject("CN=").is_err());
        assert!(parse_subject("XX=1").unwrap_err().contains("XX"));
        assert!(parse_subject("web").unwrap_err().contains("TYPE=VALUE"));
        assert!(parse_subject("C=Ü").is_err());
    }

    #[test]
    fn renewal_drops_key_and_issuer_bound_extensions() {
        let ext = |oid: &str| Extension {
            oid: ObjectIdentifier::new(oid).unwrap(),
            der: Vec::new(),
        };
        assert!(ext("2.5.29.17").renewed()); // subjectAltName
        assert!(ext("2.5.29.37").renewed()); // extKeyUsage
        assert!(!ext("2.5.29.14").renewed());
        assert!(!ext("2.5.29.35").renewed());
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert!(parse_certificate(b"").is_err());
        assert!(parse_certificate(&[0x30, 0x00]).is_err());
        let seq = sequence(&[&tlv(Tag::Integer, &[1]).unwrap()]).unwrap();
        assert!(parse_certificate(&seq).is_err());
    }
}
