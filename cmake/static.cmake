# regcache-static: the same sources as regcache, compiled for size (-Os: the hot loops are
# zstd's, OpenSSL's and xxHash's, compiled by Debian), linked into one fully static,
# stripped executable (no interpreter, no shared library) against Debian's static archives
# and the libcurl and libfmt that scripts/static-deps.sh built into REGCACHE_STATIC_PREFIX.

# The cross build (make static-arm64) takes every archive and header from the sysroot that
# scripts/static-deps.sh --arch unpacked Debian's packages of that architecture into.
if(REGCACHE_STATIC_SYSROOT)
  set(REGCACHE_STATIC_SYSTEM_LIBS ${REGCACHE_STATIC_SYSROOT}/usr/lib/${REGCACHE_STATIC_TRIPLET})
  set(REGCACHE_STATIC_SYSTEM_INCLUDES ${REGCACHE_STATIC_SYSROOT}/usr/include
      ${REGCACHE_STATIC_SYSROOT}/usr/include/${REGCACHE_STATIC_TRIPLET})
endif()

# Returns in VAR the static archive libNAME.a: from the prefix only when WHERE is "prefix"
# (Debian's own libcurl.a must not be taken), else from the system or the sysroot.
function(regcache_static_archive VAR NAME WHERE)
  if(WHERE STREQUAL "prefix")
    find_library(${VAR} NAMES lib${NAME}.a PATHS ${REGCACHE_STATIC_PREFIX}/lib NO_DEFAULT_PATH NO_CACHE)
  elseif(REGCACHE_STATIC_SYSROOT)
    find_library(${VAR} NAMES lib${NAME}.a PATHS ${REGCACHE_STATIC_SYSTEM_LIBS} NO_DEFAULT_PATH NO_CACHE)
  else()
    find_library(${VAR} NAMES lib${NAME}.a NO_CACHE)
  endif()
  if(NOT ${VAR})
    message(FATAL_ERROR "lib${NAME}.a not found: `make static` builds or installs it")
  endif()
  set(${VAR} ${${VAR}} PARENT_SCOPE)
endfunction()

regcache_static_archive(STATIC_CURL curl prefix)
regcache_static_archive(STATIC_FMT fmt prefix)
regcache_static_archive(STATIC_CARES cares system)
regcache_static_archive(STATIC_SSL ssl system)
regcache_static_archive(STATIC_CRYPTO crypto system)
regcache_static_archive(STATIC_ZSTD zstd system)
regcache_static_archive(STATIC_Z z system)
regcache_static_archive(STATIC_XXHASH xxhash system)

# Headers: curl's and fmt's from the prefix, the others from the system (or the sysroot).
add_library(regcache_static_objs OBJECT ${REGCACHE_SOURCES})
target_include_directories(regcache_static_objs PRIVATE src ${REGCACHE_STATIC_PREFIX}/include)
target_include_directories(regcache_static_objs SYSTEM PRIVATE ${REGCACHE_STATIC_SYSTEM_INCLUDES})
target_compile_definitions(regcache_static_objs PRIVATE REGCACHE_VERSION="${PROJECT_VERSION}")
# After the build type's -O2 -g: the last -O wins; no debug info for a stripped binary.
# Optimized at link time too: 0.19 MB less, which keeps the binary within issue 15's 8 MB.
target_compile_options(regcache_static_objs PRIVATE -Os -g0 -flto=auto)

add_executable(regcache-static src/regcache/cli/main.cpp $<TARGET_OBJECTS:regcache_static_objs>)
target_include_directories(regcache-static PRIVATE src ${REGCACHE_STATIC_PREFIX}/include)
target_include_directories(regcache-static SYSTEM PRIVATE ${REGCACHE_STATIC_SYSTEM_INCLUDES})
target_compile_definitions(regcache-static PRIVATE REGCACHE_VERSION="${PROJECT_VERSION}")
target_compile_options(regcache-static PRIVATE -Os -g0 -flto=auto)
target_link_libraries(regcache-static PRIVATE ${STATIC_CURL} ${STATIC_CARES} ${STATIC_SSL} ${STATIC_CRYPTO} ${STATIC_ZSTD} ${STATIC_Z}
  ${STATIC_XXHASH} ${STATIC_FMT} -lpthread -ldl)
# -no-pie: Debian's archives are not all built position-independent; -s strips. -g0: the
# link-time optimizer must not emit debug info for objects compiled without it (with the
# build type's -g1 g++ 12 stops with an internal error in dwarf2out).
target_link_options(regcache-static PRIVATE -static -no-pie -s -Wl,--gc-sections -flto=auto -Os -g0)
