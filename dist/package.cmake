# The Debian packages, with CPack's DEB generator: one package per install
# component of dist/install.cmake.
#
#   respawn      the daemon, its unit, configuration, connectors, docs and
#                man pages; maintainer scripts in dist/debian/
#   respawn-lab  respawn-lab and the lab connector (tests, the demo)
#
# Build for /usr, then package (scripts/package does both, and
# scripts/package-check installs the result and checks it):
#
#   cmake -S . -B build/package -DCMAKE_BUILD_TYPE=RelWithDebInfo \
#     -DCMAKE_INSTALL_PREFIX=/usr -DRESPAWN_TESTS=OFF
#   cmake --build build/package && (cd build/package && cpack -G DEB)
#
# Runtime dependencies are the shared libraries' (dpkg-shlibdeps) and
# adduser, which postinst uses.

set(RESPAWN_PACKAGE_MAINTAINER "respawn maintainers <root@localhost>"
  CACHE STRING "The Maintainer field of the Debian packages")

# The maintainer scripts and the conffiles name the configured paths.
foreach(f postinst postrm)
  configure_file(${PROJECT_SOURCE_DIR}/dist/debian/${f}.in
    ${PROJECT_BINARY_DIR}/dist/debian/${f} @ONLY)
endforeach()
configure_file(${PROJECT_SOURCE_DIR}/dist/debian/prerm
  ${PROJECT_BINARY_DIR}/dist/debian/prerm COPYONLY)
file(WRITE ${PROJECT_BINARY_DIR}/dist/debian/conffiles.new
  "${RESPAWN_CONFDIR}/respawn.ini\n${RESPAWN_CONFDIR}/proxies.txt\n")
configure_file(${PROJECT_BINARY_DIR}/dist/debian/conffiles.new
  ${PROJECT_BINARY_DIR}/dist/debian/conffiles COPYONLY)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME respawn)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT ${RESPAWN_PACKAGE_MAINTAINER})
# Each package's description is its component's below, whose first line
# is the summary.
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL respawn lab)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_RESPAWN_PACKAGE_NAME respawn)
set(CPACK_DEBIAN_RESPAWN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_RESPAWN_PACKAGE_DEPENDS "adduser")
# Connectors are separate programs: the reference ones need Node.js (and
# npm for `npm ci`), whatsapp-web.js needs chromium; fleet mode a
# PostgreSQL server somewhere.
set(CPACK_DEBIAN_RESPAWN_PACKAGE_SUGGESTS "nodejs, npm, chromium")
set(CPACK_DEBIAN_RESPAWN_PACKAGE_CONTROL_EXTRA
  ${PROJECT_BINARY_DIR}/dist/debian/postinst
  ${PROJECT_BINARY_DIR}/dist/debian/prerm
  ${PROJECT_BINARY_DIR}/dist/debian/postrm
  ${PROJECT_BINARY_DIR}/dist/debian/conffiles)
set(CPACK_COMPONENT_RESPAWN_DESCRIPTION
"keeps WhatsApp Web sessions alive through country-matched proxies
respawn supervises one WhatsApp Web connector per customer phone number,
each through a proxy IP in the customer's country (Bright Data or a
static list), and recovers every session on the IP it had after a crash,
a reboot or an upgrade. This package holds the daemon, its systemd unit
(installed disabled), the configuration in /etc/respawn, the reference
connectors' sources and the documentation.")

set(CPACK_DEBIAN_LAB_PACKAGE_NAME respawn-lab)
set(CPACK_DEBIAN_LAB_PACKAGE_SECTION devel)
set(CPACK_COMPONENT_LAB_DESCRIPTION
"local stand-in for Bright Data and WhatsApp, for respawn's tests and demo
respawn-lab serves Bright Data's account API and super proxy, a WhatsApp
stand-in and Google Secret Manager on loopback, with fault injection;
respawn-lab-connector is a minimal connector against it. With the
respawn package, `respawn demo --lab ${RESPAWN_LIBEXECDIR}` runs the demo.
Production hosts do not need it.")

include(CPack)
