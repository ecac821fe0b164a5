# regcache-static: the same objects as regcache, linked into one fully static, stripped
# executable (no interpreter, no shared library) against Debian's static archives and the
# libcurl and libfmt that scripts/static-deps.sh built into REGCACHE_STATIC_PREFIX.

# Returns in VAR the static archive libNAME.a: from the prefix only when WHERE is "prefix"
# (Debian's own libcurl.a must not be taken), else from the system.
function(regcache_static_archive VAR NAME WHERE)
  if(WHERE STREQUAL "prefix")
    find_library(${VAR} NAMES lib${NAME}.a PATHS ${REGCACHE_STATIC_PREFIX}/lib NO_DEFAULT_PATH NO_CACHE)
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

add_executable(regcache-static src/regcache/cli/main.cpp $<TARGET_OBJECTS:regcache_objs>)
target_include_directories(regcache-static PRIVATE src ${REGCACHE_STATIC_PREFIX}/include)
target_compile_definitions(regcache-static PRIVATE REGCACHE_VERSION="${PROJECT_VERSION}")
target_link_libraries(regcache-static PRIVATE nlohmann_json::nlohmann_json CLI11::CLI11
  ${STATIC_CURL} ${STATIC_CARES} ${STATIC_SSL} ${STATIC_CRYPTO} ${STATIC_ZSTD} ${STATIC_Z}
  ${STATIC_XXHASH} ${STATIC_FMT} -lpthread -ldl)
# -no-pie: Debian's archives are not all built position-independent; -s strips.
target_link_options(regcache-static PRIVATE -static -no-pie -s -Wl,--gc-sections)
