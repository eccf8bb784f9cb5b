# CMake toolchain file for the WebAssembly build:
#   cmake -B build/wasm -DCMAKE_TOOLCHAIN_FILE=emsdk-toolchain.cmake
# Uses the Emscripten whose emcc is on PATH (an activated emsdk, or Debian's package).
find_program(WT_EMCC emcc REQUIRED)
get_filename_component(wt_emcc_real "${WT_EMCC}" REALPATH)
get_filename_component(wt_emscripten_root "${wt_emcc_real}" DIRECTORY)
set(wt_platform_file "${wt_emscripten_root}/cmake/Modules/Platform/Emscripten.cmake")
if(NOT EXISTS "${wt_platform_file}")
  message(FATAL_ERROR "Emscripten.cmake not found next to ${wt_emcc_real}")
endif()
include("${wt_platform_file}")

# Debian's Emscripten runs its JS optimizer (acorn-optimizer.js) with the system Node,
# which finds acorn only through NODE_PATH=/usr/share/nodejs (package node-acorn, a
# dependency of emscripten). An emsdk ships acorn in its own node_modules. Compiles and
# links get the variable here, where emcc runs, so no script has to export it, and a
# shell whose environment was computed before emscripten was installed builds too.
if(NOT EXISTS "${wt_emscripten_root}/node_modules/acorn")
  set(wt_node_path "/usr/share/nodejs")
  if(DEFINED ENV{NODE_PATH} AND NOT "$ENV{NODE_PATH}" STREQUAL "")
    string(APPEND wt_node_path ":$ENV{NODE_PATH}")
  endif()
  set(wt_emcc_env "${CMAKE_COMMAND};-E;env;NODE_PATH=${wt_node_path}")
  foreach(lang C CXX)
    set(CMAKE_${lang}_COMPILER_LAUNCHER "${wt_emcc_env}")
    set(CMAKE_${lang}_LINKER_LAUNCHER "${wt_emcc_env}")
  endforeach()
endif()

# Debian's Emscripten 3.1.6 loads .wasm with fetch() whenever fetch exists, which
# Node 20 has; the tests run under Node without it.
find_program(WT_NODE node REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR "${WT_NODE};--no-experimental-fetch" CACHE STRING "" FORCE)
