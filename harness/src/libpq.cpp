#include "libpq.hpp"

#include "pgmt/server.hpp"

#include <dlfcn.h>

#include <mutex>
#include <string>

namespace pgmt {

const libpq_api& libpq() {
  static libpq_api api;
  static std::string failure;
  static std::once_flag once;
  std::call_once(once, [] {
    // The library libpq-dev's libpq.so points at (the runtime package, libpq5).
    void* lib = nullptr;
    std::string why;
    for (const char* name : {"libpq.so.5", "libpq.so"}) {
      lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (lib) break;
      if (const char* e = dlerror(); e && why.empty()) why = e;
    }
    if (!lib) {
      failure = "could not load libpq (libpq.so.5): " + why + "; install it (Debian: apt-get install libpq5)";
      return;
    }
#define PGMT_LIBPQ_LOAD(name)                                                                  \
  api.name = reinterpret_cast<decltype(api.name)>(dlsym(lib, #name));                          \
  if (!api.name && failure.empty()) failure = "libpq (libpq.so.5) has no function " #name "; install libpq5 15 or later";
    PGMT_LIBPQ_FUNCTIONS(PGMT_LIBPQ_LOAD)
#undef PGMT_LIBPQ_LOAD
  });
  if (!failure.empty()) throw harness_error(failure);
  return api;
}

}  // namespace pgmt
