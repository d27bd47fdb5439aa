//! TLS set-up for both ends: the client's trust (bundled web roots, the
//! system's roots, `--ca-cert`, or `--insecure`) and the built-in server's
//! certificate (`serve --tls-cert/--tls-key`).
//!
//! Reads PEM files and the system's certificate store, so it is called only
//! when TLS is in use: for a `wss://` URL, or a server given a certificate.
//! Errors are one line naming the file and what to do ([`TlsError`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, ring};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};

/// Why a TLS configuration could not be built. Each renders as one line
/// naming the file and the flag it came from.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// rustls refused the protocol versions (a build without them).
    #[error("cannot set up TLS: {0}")]
    Setup(rustls::Error),
    /// A PEM certificate file is missing, unreadable, or holds none.
    #[error("cannot read PEM certificates from `{}` ({flag}): {why}", path.display())]
    Certificates {
        path: PathBuf,
        flag: &'static str,
        why: String,
    },
    /// A `--ca-cert` certificate cannot serve as a trust anchor.
    #[error("`{}` (--ca-cert) holds a certificate that cannot be a CA: {error}", path.display())]
    NotCa { path: PathBuf, error: rustls::Error },
    /// The `--tls-key` file holds no usable private key.
    #[error("cannot read a PEM private key from `{}` (--tls-key): {error}", path.display())]
    Key {
        path: PathBuf,
        error: rustls::pki_types::pem::Error,
    },
    /// The certificate and key do not belong together.
    #[error("the --tls-cert and --tls-key do not make a usable pair: {0}")]
    Pair(rustls::Error),
}

/// How the client decides whether to trust a server.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// Extra PEM CA certificates to trust (`--ca-cert`).
    pub ca_cert: Option<PathBuf>,
    /// Skip verification entirely (`--insecure`).
    pub insecure: bool,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// The client configuration for `trust`: the bundled web roots plus the
/// system's, plus `--ca-cert`; or no verification with `--insecure`.
pub fn client_config(trust: &Trust) -> Result<Arc<ClientConfig>, TlsError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Setup)?;
    let config = if trust.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider())))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        // The system store may be missing or partly unreadable; the bundled
        // roots still work then, so only the certificates found are added.
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        if let Some(path) = &trust.ca_cert {
            for cert in read_certs(path, "--ca-cert")? {
                roots.add(cert).map_err(|error| TlsError::NotCa {
                    path: path.clone(),
                    error,
                })?;
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// The certificates `trust` adds to the bundled web roots, as DER: the
/// system's and `--ca-cert`'s. For an HTTP client that takes root
/// certificates rather than a rustls configuration (the page fetch,
/// `page.rs`), which falls back to its own bundled web roots when this is
/// empty.
pub fn root_certificates(trust: &Trust) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let mut certs = rustls_native_certs::load_native_certs().certs;
    if let Some(path) = &trust.ca_cert {
        certs.extend(read_certs(path, "--ca-cert")?);
    }
    Ok(certs)
}

/// The server configuration for a PEM certificate chain and private key.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = read_certs(cert, "--tls-cert")?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|error| TlsError::Key {
        path: key.to_owned(),
        error,
    })?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Setup)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(TlsError::Pair)?;
    Ok(Arc::new(config))
}

/// Every certificate in a PEM file; an empty or unreadable file is an error.
fn read_certs(path: &Path, flag: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bad = |e: &dyn std::fmt::Display| TlsError::Certificates {
        path: path.to_owned(),
        flag,
        why: e.to_string(),
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(&e))?;
    if certs.is_empty() {
        return Err(bad(&"no `BEGIN CERTIFICATE` block in it"));
    }
    Ok(certs)
}

/// `--insecure`: any certificate is accepted, but the handshake signatures
/// are still checked, so the connection is at least encrypted to whoever
/// holds the key.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_ca_file_names_the_file_and_the_flag() {
        let e = client_config(&Trust {
            ca_cert: Some("/nonexistent/ca.pem".into()),
            insecure: false,
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("`/nonexistent/ca.pem` (--ca-cert)"), "{e}");
    }

    #[test]
    fn a_file_without_certificates_is_refused() {
        let path = std::env::temp_dir().join(format!("phx-repl-tls-{}.pem", std::process::id()));
        std::fs::write(&path, "not a certificate\n").unwrap();
        let e = client_config(&Trust {
            ca_cert: Some(path.clone()),
            insecure: false,
        })
        .unwrap_err()
        .to_string();
        std::fs::remove_file(&path).unwrap();
        assert!(e.contains("no `BEGIN CERTIFICATE` block"), "{e}");
    }

    #[test]
    fn default_and_insecure_configs_build() {
        assert!(client_config(&Trust::default()).is_ok());
        assert!(
            client_config(&Trust {
                ca_cert: None,
                insecure: true
            })
            .is_ok()
        );
    }
}
