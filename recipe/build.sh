#!/usr/bin/env bash
# Build script of the `oe-pyproc` output (Linux and macOS; conda-forge conventions: $CMAKE_ARGS, Ninja,
# Python from $PYTHON, cross-python for osx-arm64). Verified on linux-64 only; macOS is UNVERIFIED.
set -euo pipefail

echo "oe-pyproc: adapter mode: ${OE_PYPROC_ADAPTER_MODE}"
gui_dir=""
case "${OE_PYPROC_ADAPTER_MODE}" in
  gui-tag)
    gui_dir="${SRC_DIR}/plugin-GUI"
    echo "oe-pyproc: building the adapter against plugin-GUI ${OE_PYPROC_GUI_TAG} (second source)"
    # The GUI's own configure step writes JuceHeader.h from JuceHeader.h.in; a tag archive has only the
    # template. Fill in its two version placeholders (GUI_VERSION, and its hex 0xMMmmpp) the same way.
    juce="${gui_dir}/JuceLibraryCode"
    if [[ ! -f "${juce}/JuceHeader.h" && -f "${juce}/JuceHeader.h.in" ]]; then
      gui_version=$(sed -n 's/^set(GUI_VERSION \([0-9.]*\))$/\1/p' "${gui_dir}/CMakeLists.txt")
      IFS=. read -r major minor patch <<< "${gui_version}"
      gui_version_hex=$(printf '0x%x' $(( (major << 16) | (minor << 8) | patch )))
      sed -e "s/@GUI_VERSION@/${gui_version}/" -e "s/@GUI_VERSION_HEX@/${gui_version_hex}/" \
        "${juce}/JuceHeader.h.in" > "${juce}/JuceHeader.h"
      echo "oe-pyproc: wrote ${juce}/JuceHeader.h for GUI ${gui_version} (${gui_version_hex})"
    fi
    ;;
  local-gui-source)
    gui_dir="${OE_PYPROC_GUI_SOURCE_DIR}"
    echo "oe-pyproc: OE_PYPROC_GUI_SOURCE is set: building the adapter against the local GUI checkout ${gui_dir}"
    if [[ ! -f "${gui_dir}/Source/Processors/PluginManager/OpenEphysPlugin.h" ]]; then
      echo "oe-pyproc: error: ${gui_dir} is not a plugin-GUI checkout (no Source/Processors/PluginManager/OpenEphysPlugin.h)" >&2
      exit 1
    fi
    ;;
  without-adapter)
    echo "oe-pyproc: OE_PYPROC_WITHOUT_ADAPTER=1: building WITHOUT the Open Ephys adapter;"
    echo "oe-pyproc: the package holds the bridges, the host, the templates and the metadata only"
    ;;
  *)
    echo "oe-pyproc: error: unknown adapter mode '${OE_PYPROC_ADAPTER_MODE}'" >&2
    exit 1
    ;;
esac

if [[ ! -f plugin/CMakeLists.txt ]]; then
  echo "oe-pyproc: error: plugin/CMakeLists.txt is missing from the source" >&2
  exit 1
fi

cmake_args=(
  -GNinja
  -DCMAKE_BUILD_TYPE=Release
  -DCMAKE_INSTALL_PREFIX="${PREFIX}"
  -DCMAKE_INSTALL_LIBDIR=lib
  -DPython_EXECUTABLE="${PYTHON}"
  -DOE_PYPROC_PYTHONS="${PYTHON}"
  -DOE_PYPROC_BUILD_TESTS=OFF
)
if [[ -n "${gui_dir}" ]]; then
  cmake_args+=(-DOE_GUI_DIR="${gui_dir}")
fi

# CMAKE_ARGS comes from the compiler activation (word splitting intended).
# shellcheck disable=SC2086
cmake -S plugin -B build-conda ${CMAKE_ARGS:-} "${cmake_args[@]}"
cmake --build build-conda --parallel "${CPU_COUNT:-2}"
cmake --install build-conda

# The templates (one source, templates/) and a record of how this package was built.
mkdir -p "${PREFIX}/share/oe-pyproc/templates"
cp templates/*.py "${PREFIX}/share/oe-pyproc/templates/"
"${PYTHON}" "${RECIPE_DIR}/write_build_info.py" "${PREFIX}/share/oe-pyproc/build-info.json"
