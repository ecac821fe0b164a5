# regcache-static: the same sources as regcache, compiled for size (-Os: the hot loops are
# zstd's, OpenSSL's and xxHash's, compiled by Debian), linked into one fully static,
# stripped executable (no interpreter, no shared library) against Debian's static archives
# and the libcurl and libfmt that scripts/static-deps.sh built into REGCACHE_STATIC_PREFIX.

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

add_library(regcache_static_objs OBJECT ${REGCACHE_SOURCES})
target_include_directories(regcache_static_objs PRIVATE src ${REGCACHE_STATIC_PREFIX}/include)
target_compile_definitions(regcache_static_objs PRIVATE REGCACHE_VERSION="${PROJECT_VERSION}")
target_link_libraries(regcache_static_objs PRIVATE nlohmann_json::nlohmann_json CLI11::CLI11
  CURL::libcurl OpenSSL::Crypto PkgConfig::ZSTD PkgConfig::XXHASH)
# After the build type's -O2 -g: the last -O wins; no debug info for a stripped binary.
target_compile_options(regcache_static_objs PRIVATE -Os -g0)

add_executable(regcache-static src/regcache/cli/main.cpp $<TARGET_OBJECTS:regcache_static_objs>)
target_include_directories(regcache-static PRIVATE src ${REGCACHE_STATIC_PREFIX}/include)
target_compile_definitions(regcache-static PRIVATE REGCACHE_VERSION="${PROJECT_VERSION}")
target_compile_options(regcache-static PRIVATE -Os -g0)
target_link_libraries(regcache-static PRIVATE nlohmann_json::nlohmann_json CLI11::CLI11
  ${STATIC_CURL} ${STATIC_CARES} ${STATIC_SSL} ${STATIC_CRYPTO} ${STATIC_ZSTD} ${STATIC_Z}
  ${STATIC_XXHASH} ${STATIC_FMT} -lpthread -ldl)
# -no-pie: Debian's archives are not all built position-independent; -s strips.
target_link_options(regcache-static PRIVATE -static -no-pie -s -Wl,--gc-sections)

include(GNUInstallDirs)

# `make deb`: a Debian package of the static binary, its man page and shell completions,
# for self-hosted runners. It depends on nothing, so it installs on any Debian or Ubuntu.
install(PROGRAMS $<TARGET_FILE:regcache-static> DESTINATION ${CMAKE_INSTALL_BINDIR} RENAME regcache
        COMPONENT deb EXCLUDE_FROM_ALL)
install(FILES ${CMAKE_BINARY_DIR}/regcache.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
        COMPONENT deb EXCLUDE_FROM_ALL)
install(FILES ${CMAKE_BINARY_DIR}/regcache.bash DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
        RENAME regcache COMPONENT deb EXCLUDE_FROM_ALL)
install(FILES ${CMAKE_BINARY_DIR}/_regcache DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions
        COMPONENT deb EXCLUDE_FROM_ALL)
set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL deb)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_DEB_PACKAGE_NAME regcache)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_PACKAGE_CONTACT "regcache maintainers <regcache@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "save and restore CI build caches in any OCI registry")
set(CPACK_PACKAGE_DESCRIPTION "regcache saves a CI job's caches as OCI images in a container registry or a local OCI layout, and restores them in later jobs, on any branch or tag. This package holds the static binary.")
# The package goes beside the static binary, in make static's directory (build-static/).
get_filename_component(REGCACHE_STATIC_DIR "${REGCACHE_STATIC_PREFIX}/../.." ABSOLUTE)
set(CPACK_OUTPUT_FILE_PREFIX ${REGCACHE_STATIC_DIR})
include(CPack)
