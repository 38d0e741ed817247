# What `cmake --install build --prefix P` puts where, and the Debian package CPack makes of it (docs/install.md).
#
#   P/bin/roo                        the program
#   P/bin/machida, machida3,         symlinks to roo (it looks at the name it was started under)
#     cluster_shutdown, cluster_shrinker
#   P/lib/roo/python/wallaroo/       Roo's own wallaroo package, found by the binary relative to itself
#                                    (src/runtime/python_package_dir.hpp), so the tree may be copied anywhere
#   P/share/roo/dashboard/           the dashboard's page, served by --metrics-http, found the same way
#                                    (src/runtime/dashboard_dir.hpp)
#   P/share/doc/roo/LICENSE
#
# The paths are fixed, not GNUInstallDirs': the binary looks for ../lib/roo/python, which must not become
# lib/x86_64-linux-gnu/roo/python under /usr, and the container image and Helm chart rely on this layout.
set(ROO_INSTALL_PYTHON_DIR lib/roo/python)

install(TARGETS roo RUNTIME DESTINATION bin)
# The build's own relative symlinks (src/cli/CMakeLists.txt), installed as symlinks.
install(FILES $<TARGET_FILE_DIR:roo>/machida $<TARGET_FILE_DIR:roo>/machida3 $<TARGET_FILE_DIR:roo>/cluster_shutdown
        $<TARGET_FILE_DIR:roo>/cluster_shrinker DESTINATION bin)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/python/wallaroo DESTINATION ${ROO_INSTALL_PYTHON_DIR}
        FILES_MATCHING PATTERN "*.py" PATTERN "__pycache__" EXCLUDE)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/dashboard/ DESTINATION share/roo/dashboard)
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE DESTINATION share/doc/roo)

# The .deb: `cd build && cpack -G DEB` writes roo_<version>_amd64.deb, installing under /usr.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME roo)
set(CPACK_PACKAGE_VENDOR "Roo")
set(CPACK_PACKAGE_CONTACT "Roo maintainers <roo@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "stream processor for Wallaroo Python applications")
set(CPACK_PACKAGE_DESCRIPTION "Roo runs Python stream-processing applications written for Wallaroo, event by event
with keyed state, on a C++ runtime that embeds Debian's Python 3.11. This package holds roo, the
machida and machida3 launchers and Roo's wallaroo Python package.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)  # the RelWithDebInfo binary is ~120 MB with its debug information
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
# gzip, fast: cmake/deb/installed_size.cmake unpacks the package and packs it again, with xz (3.0 MB instead of 4.0).
set(CPACK_DEBIAN_COMPRESSION_TYPE gzip)
# dpkg-shlibdeps names the shared libraries' packages (libstdc++6, librdkafka1, libssl3, ...). libpython is linked
# statically, so it cannot see what the embedded interpreter loads at run time: the standard library in
# /usr/lib/python3.11 with its C extension modules (libpython3.11-stdlib), and /usr/bin/python3, which is
# sys.executable (multiprocessing, subprocess) and the interpreter virtualenvs are made from (python3-minimal).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(ROO_PYTHON_SERIES ${Python_VERSION_MAJOR}.${Python_VERSION_MINOR})
math(EXPR ROO_NEXT_PYTHON_MINOR "${Python_VERSION_MINOR} + 1")
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libpython${ROO_PYTHON_SERIES}-stdlib, python3-minimal (>= ${ROO_PYTHON_SERIES}), \
python3-minimal (<< ${Python_VERSION_MAJOR}.${ROO_NEXT_PYTHON_MINOR})")
# postinst byte-compiles the wallaroo package; prerm removes every __pycache__ under it (also those written by
# workers), so that removing the package leaves nothing behind.
set(ROO_DEB_PYTHON_DIR ${CPACK_PACKAGING_INSTALL_PREFIX}/${ROO_INSTALL_PYTHON_DIR})
configure_file(${PROJECT_SOURCE_DIR}/cmake/deb/postinst.in ${PROJECT_BINARY_DIR}/deb/postinst @ONLY)
configure_file(${PROJECT_SOURCE_DIR}/cmake/deb/prerm.in ${PROJECT_BINARY_DIR}/deb/prerm @ONLY)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA "${PROJECT_BINARY_DIR}/deb/postinst;${PROJECT_BINARY_DIR}/deb/prerm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_POST_BUILD_SCRIPTS ${PROJECT_SOURCE_DIR}/cmake/deb/installed_size.cmake)
include(CPack)
