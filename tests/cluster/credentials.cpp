// cluster/credentials: the CA follows from name and secret alone, every member writes the same
// CA certificate, member certificates verify against their own cluster's CA only, and the key
// file is private.
#include "cluster/credentials.hpp"

#include <doctest/doctest.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <sys/stat.h>
#include <unistd.h>

using namespace dtt;
using namespace dtt::cluster_core;

namespace {

X509* read_cert(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr)
    return nullptr;
  X509* c = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  return c;
}

// True if `leaf` verifies against `ca` as the only trust anchor.
bool verifies(X509* leaf, X509* ca) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, nullptr);
  bool ok = X509_verify_cert(ctx) == 1;
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return ok;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

} // namespace

TEST_CASE("credentials: the cluster CA is derived from name and secret, member certs verify") {
  auto s = byte_view::of("s3cret");
  CHECK(derive_ca_seed("jobs", s) == derive_ca_seed("jobs", s));
  CHECK(derive_ca_seed("jobs", s) != derive_ca_seed("jobs", byte_view::of("s3cret!")));
  CHECK(derive_ca_seed("jobs", s) != derive_ca_seed("jobs2", s));
  // The length prefix keeps name and secret apart ("ab" + "c" is not "a" + "bc").
  CHECK(derive_ca_seed("ab", byte_view::of("c")) != derive_ca_seed("a", byte_view::of("bc")));
  auto pem1 = ca_certificate_pem(derive_ca_seed("jobs", s));
  auto pem2 = ca_certificate_pem(derive_ca_seed("jobs", s));
  REQUIRE(pem1);
  REQUIRE(pem2);
  CHECK(*pem1 == *pem2);

  char tmpl[] = "/tmp/dtt-cred-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  std::string dir = tmpl;
  auto a = write_member_credentials("jobs", s, dir + "/a");
  auto b = write_member_credentials("jobs", s, dir + "/b");
  auto x = write_member_credentials("jobs", byte_view::of("guess"), dir + "/x");
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE(x);
  CHECK(slurp(a->cafile) == *pem1);
  CHECK(slurp(a->cafile) == slurp(b->cafile));
  CHECK(slurp(a->certificate) != slurp(b->certificate)); // a fresh key per member
  struct stat st {};
  REQUIRE(::stat(a->key.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat((dir + "/a").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);

  X509* ca = read_cert(a->cafile);
  X509* ca_x = read_cert(x->cafile);
  X509* ca_b = read_cert(b->cafile);
  X509* cert_a = read_cert(a->certificate);
  X509* cert_b = read_cert(b->certificate);
  X509* cert_x = read_cert(x->certificate);
  REQUIRE((ca && ca_x && ca_b && cert_a && cert_b && cert_x));
  CHECK(verifies(cert_a, ca));
  CHECK(verifies(cert_b, ca));   // another member's certificate, our CA file
  CHECK(verifies(cert_a, ca_b)); // our certificate, another member's CA file
  CHECK_FALSE(verifies(cert_x, ca)); // a wrong secret's certificate
  CHECK_FALSE(verifies(cert_a, ca_x));
  for (X509* c : {ca, ca_x, ca_b, cert_a, cert_b, cert_x})
    X509_free(c);
  std::system(("rm -rf '" + dir + "'").c_str());
}
