#include "external_client_flags.hpp"

#include "client_tls.hpp"

namespace roo::cli {

void ExternalClientFlags::add_to(CLI::App& command) {
  command.add_option("--external-secret-file", secret_file,
                     "File holding the workers' external secret (their --external-secret-file); default: "
                     "$ROO_EXTERNAL_SECRET_FILE, else none");
  command.add_option("--tls-cert", tls_cert, "This client's certificate, for workers started with --tls-*");
  command.add_option("--tls-key", tls_key, "Its private key");
  command.add_option("--tls-ca", tls_ca, "The CA the worker's certificate must be signed by");
}

std::optional<core::TlsFiles> ExternalClientFlags::tls() const { return tls_files(tls_cert, tls_key, tls_ca); }

}  // namespace roo::cli
