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

# Debian's Emscripten 3.1.6 loads .wasm with fetch() whenever fetch exists, which
# Node 20 has; the tests run under Node without it.
find_program(WT_NODE node REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR "${WT_NODE};--no-experimental-fetch" CACHE STRING "" FORCE)
