# Cross-build of the loader, the bridges and oe-pyproc-host for 64-bit Windows with Debian's mingw-w64
# (the posix thread model: the host and the bridge use std::thread and std::mutex). Bridges are built for
# Windows Pythons given as folders (-DOE_PYPROC_WINDOWS_PYTHONS="<Home>;..."), never by running them.
#
#   cmake -S plugin -B build/windows -G Ninja -DCMAKE_TOOLCHAIN_FILE=plugin/cmake/mingw-w64-x86_64.cmake \
#     -DOE_PYPROC_WINDOWS_PYTHONS="/path/to/cp310"
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR AMD64)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++-posix)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
# The programs carry their C++ runtime (libstdc++, libgcc, winpthread) so that nothing but Windows' own DLLs
# and the Home's python3XY.dll is loaded: a Home's folder may hold other mingw runtimes.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "-static")
