# What `cmake --install` puts where, in two components:
#
#   respawn  the daemon and its command line, the systemd unit, the
#            configuration (/etc/respawn), the reference connectors' sources
#            (share/respawn/connectors, without node_modules), the docs and
#            the manual pages respawn(8) and respawn.ini(5);
#   lab      respawn-lab, the lab connector and respawn-lab(1): what the
#            demo and tests need, a production host does not.
#
# `cmake --install build --prefix P` installs both; `--component respawn`
# one.  The unit and the man pages name the paths of the prefix the build
# was configured with (CMAKE_INSTALL_PREFIX, /usr/local unless given):
# build with -DCMAKE_INSTALL_PREFIX=/usr for /usr/bin/respawn and
# /etc/respawn.  A build for /usr installs its configuration in /etc
# whatever --prefix says (as GNUInstallDirs does); stage such a build with
# DESTDIR.  dist/package.cmake turns the two components into Debian
# packages.

include(GNUInstallDirs)

# /usr puts the configuration in /etc, any other prefix in PREFIX/etc.
if(CMAKE_INSTALL_FULL_SYSCONFDIR STREQUAL
    "${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_SYSCONFDIR}")
  set(RESPAWN_CONF_DEST ${CMAKE_INSTALL_SYSCONFDIR}/respawn)
else()
  set(RESPAWN_CONF_DEST ${CMAKE_INSTALL_FULL_SYSCONFDIR}/respawn)
endif()
# systemd reads units from PREFIX/lib/systemd/system for /usr and
# /usr/local alike.
set(RESPAWN_UNIT_DIR "lib/systemd/system" CACHE STRING
  "Where the systemd unit goes, relative to the install prefix")

# The paths the unit, the configuration and the pages name.
set(RESPAWN_BINDIR ${CMAKE_INSTALL_FULL_BINDIR})
set(RESPAWN_CONFDIR ${CMAKE_INSTALL_FULL_SYSCONFDIR}/respawn)
set(RESPAWN_DOCDIR ${CMAKE_INSTALL_FULL_DOCDIR})
set(RESPAWN_DATADIR ${CMAKE_INSTALL_FULL_DATADIR}/respawn)
set(RESPAWN_LIBEXECDIR ${CMAKE_INSTALL_FULL_LIBEXECDIR}/respawn)

foreach(f respawn.service respawn.ini proxies.txt)
  configure_file(${PROJECT_SOURCE_DIR}/dist/${f}.in
    ${PROJECT_BINARY_DIR}/dist/${f} @ONLY)
endforeach()

# --- respawn -------------------------------------------------------------
install(TARGETS respawn RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  COMPONENT respawn)
install(FILES ${PROJECT_BINARY_DIR}/dist/respawn.service
  DESTINATION ${RESPAWN_UNIT_DIR} COMPONENT respawn)
install(FILES ${PROJECT_BINARY_DIR}/dist/respawn.ini
  ${PROJECT_BINARY_DIR}/dist/proxies.txt
  DESTINATION ${RESPAWN_CONF_DEST} COMPONENT respawn)
install(FILES ${PROJECT_BINARY_DIR}/dist/respawn.ini
  ${PROJECT_BINARY_DIR}/dist/proxies.txt
  DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples COMPONENT respawn)
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR}
  COMPONENT respawn)
# The docs keep the source tree's layout, so README.md's links hold.
install(DIRECTORY docs DESTINATION ${CMAKE_INSTALL_DOCDIR}
  COMPONENT respawn)
# The reference connectors as sources with their lock files: an operator
# copies one (and common/, which both use) and runs `npm ci --omit=dev`
# (docs/OPERATIONS.md).  Dependencies are not shipped, nor the tests.
foreach(c common baileys wwebjs)
  install(DIRECTORY connectors/${c}
    DESTINATION ${CMAKE_INSTALL_DATADIR}/respawn/connectors
    COMPONENT respawn
    PATTERN node_modules EXCLUDE
    PATTERN test EXCLUDE)
endforeach()

# --- lab -----------------------------------------------------------------
# Both lab binaries in one directory, so `respawn demo --lab DIR` finds
# them; respawn-lab is also on the PATH.
if(TARGET respawn-lab)
  install(TARGETS respawn-lab respawn-lab-connector
    RUNTIME DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/respawn COMPONENT lab)
  file(RELATIVE_PATH RESPAWN_LAB_LINK ${CMAKE_INSTALL_FULL_BINDIR}
    ${RESPAWN_LIBEXECDIR}/respawn-lab)
  install(CODE "
    set(bindir \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")
    file(MAKE_DIRECTORY \"\${bindir}\")
    file(CREATE_LINK \"${RESPAWN_LAB_LINK}\" \"\${bindir}/respawn-lab\" SYMBOLIC)
    list(APPEND CMAKE_INSTALL_MANIFEST_FILES \"\${bindir}/respawn-lab\")
    message(STATUS \"Installing: \${bindir}/respawn-lab -> ${RESPAWN_LAB_LINK}\")"
    COMPONENT lab)
endif()
