//! Encrypted PKCS#8 input for `keys import`: the passphrase comes from the
//! variable named by `--key-passphrase-env VAR` (never from the command
//! line, where `ps` shows it) or from a prompt on the terminal, and the key
//! is decrypted in memory (`keyward::mechanism::pbes2`); only the plain
//! PKCS#8 goes on to the importer, in a buffer wiped on drop.

use keyward::mechanism::pbes2::{self, Pbes2Error};
use zeroize::Zeroizing;

use crate::Ctx;
use crate::fail::{CliError, CliResult, EXIT_PIN};

/// `data` as is, or decrypted when it is an encrypted PKCS#8 key.
pub fn decrypt_if_encrypted(
    ctx: &mut Ctx,
    env: Option<&str>,
    data: Zeroizing<Vec<u8>>,
) -> CliResult<Zeroizing<Vec<u8>>> {
    let Some(der) = pbes2::encrypted_der(&data) else {
        if let Some(var) = env {
            return Err(CliError::usage(format!(
                "--key-passphrase-env {var} was given, but the key is not an encrypted \
                 PKCS#8 key"
            )));
        }
        return Ok(data);
    };
    let passphrase = match env {
        Some(var) => Zeroizing::new(std::env::var(var).map_err(|_| {
            CliError::new(
                EXIT_PIN,
                format!("--key-passphrase-env {var}: the variable is not set"),
            )
        })?),
        None => ctx.secrets.prompt_once(
            "key passphrase",
            "the key is encrypted: pass --key-passphrase-env VAR",
        )?,
    };
    pbes2::decrypt(&der, passphrase.as_bytes()).map_err(|e| match e {
        Pbes2Error::WrongPassphrase => {
            CliError::new(EXIT_PIN, format!("cannot decrypt the key: {e}"))
        }
        other => CliError::failure(format!("cannot decrypt the key: {other}")),
    })
}
