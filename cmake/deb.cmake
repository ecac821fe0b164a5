# `make deb`: a Debian package of the static binary (cmake/static.cmake), its man page and
# shell completions, for self-hosted runners. It depends on nothing, so it installs on any
# Debian or Ubuntu.
include(GNUInstallDirs)

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
