# The web console (ui/, served at /ui): its files and uPlot's are compiled
# into txrelay_app, so the binary serves them with nothing installed beside
# it and nothing loaded from another origin.
#   ui/package-lock.json --npm ci--> uPlot's dist files
#   ui/*.html|js|css + uPlot.iife.min.js, uPlot.min.css
#     --cmake/embed_console.cmake--> <build>/generated/console_assets.cpp
# npm ci runs on a copy of ui/package*.json in the build directory, not in
# ui/: several build directories (scripts/build.sh's, the sanitizer builds)
# may be building at once, and would otherwise share one node_modules.
# Included from the top-level CMakeLists.txt after the txrelay_app part.
option(TXRELAY_CONSOLE "Serve the web console at /ui (npm ci fetches uPlot at build time)" ON)

set(console_src ${CMAKE_CURRENT_SOURCE_DIR}/ui)
set(console_cpp ${CMAKE_CURRENT_BINARY_DIR}/generated/console_assets.cpp)
set(console_embed ${CMAKE_CURRENT_SOURCE_DIR}/cmake/embed_console.cmake)

if(TXRELAY_CONSOLE)
  find_program(NPM_PROGRAM npm)
  if(NOT NPM_PROGRAM)
    message(FATAL_ERROR "the web console needs npm at build time (scripts/deps.sh installs it); "
                        "or configure with -DTXRELAY_CONSOLE=OFF for a binary without it")
  endif()
  set(npm_dir ${CMAKE_CURRENT_BINARY_DIR}/ui-npm)
  set(uplot_dist ${npm_dir}/node_modules/uplot/dist)
  file(MAKE_DIRECTORY ${npm_dir})
  # Again whenever the lockfile or package.json changes. npm gives the
  # installed files old timestamps, so a stamp file is the output.
  add_custom_command(
    OUTPUT ${npm_dir}/npm-ci.stamp
    BYPRODUCTS ${uplot_dist}/uPlot.iife.min.js ${uplot_dist}/uPlot.min.css
    COMMAND ${CMAKE_COMMAND} -E copy ${console_src}/package.json ${console_src}/package-lock.json ${npm_dir}
    COMMAND ${NPM_PROGRAM} ci --no-audit --no-fund --ignore-scripts --loglevel=error
    COMMAND ${CMAKE_COMMAND} -E touch ${npm_dir}/npm-ci.stamp
    WORKING_DIRECTORY ${npm_dir}
    DEPENDS ${console_src}/package.json ${console_src}/package-lock.json
    COMMENT "npm ci for the web console (ui/package-lock.json)"
    VERBATIM)

  file(GLOB console_own_files CONFIGURE_DEPENDS ${console_src}/*.html ${console_src}/*.js ${console_src}/*.css)
  set(console_files ${console_own_files} ${uplot_dist}/uPlot.iife.min.js ${uplot_dist}/uPlot.min.css)
  string(JOIN "|" console_file_arg ${console_files})
  add_custom_command(
    OUTPUT ${console_cpp}
    COMMAND ${CMAKE_COMMAND} -DOUTPUT=${console_cpp} -DFILES=${console_file_arg} -P ${console_embed}
    DEPENDS ${console_embed} ${console_own_files} ${npm_dir}/npm-ci.stamp
    COMMENT "Embedding the web console"
    VERBATIM)
else()
  add_custom_command(
    OUTPUT ${console_cpp}
    COMMAND ${CMAKE_COMMAND} -DOUTPUT=${console_cpp} -DFILES= -P ${console_embed}
    DEPENDS ${console_embed}
    COMMENT "No web console in this build (TXRELAY_CONSOLE=OFF)"
    VERBATIM)
endif()

target_sources(txrelay_app PRIVATE ${console_cpp})
