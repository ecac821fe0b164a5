# Cross-compiles for linux arm64 with Debian's aarch64 cross compiler (g++-aarch64-linux-gnu):
# `make static-arm64` builds regcache-static alone with it (cmake/static.cmake).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(REGCACHE_STATIC_TRIPLET aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
