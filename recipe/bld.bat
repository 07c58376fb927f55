@echo on
:: Build script of the `oe-pyproc` output on Windows (conda-forge conventions). UNVERIFIED: written to
:: conda-forge's conventions, never run here. The adapter links the GUI's import library open-ephys.lib,
:: which a plugin-GUI source archive does not contain: point OE_PYPROC_GUI_IMPORT_LIB at it (from a GUI
:: build) or set OE_PYPROC_WITHOUT_ADAPTER=1.

echo oe-pyproc: adapter mode: %OE_PYPROC_ADAPTER_MODE%
set "GUI_ARGS="
if "%OE_PYPROC_ADAPTER_MODE%"=="gui-tag" set "GUI_ARGS=-DOE_GUI_DIR=%SRC_DIR%\plugin-GUI"
if "%OE_PYPROC_ADAPTER_MODE%"=="local-gui-source" set "GUI_ARGS=-DOE_GUI_DIR=%OE_PYPROC_GUI_SOURCE_DIR%"
if "%OE_PYPROC_ADAPTER_MODE%"=="without-adapter" echo oe-pyproc: OE_PYPROC_WITHOUT_ADAPTER=1: building WITHOUT the Open Ephys adapter
if not "%OE_PYPROC_GUI_IMPORT_LIB%"=="" set "GUI_ARGS=%GUI_ARGS% -DOE_GUI_LIB=%OE_PYPROC_GUI_IMPORT_LIB%"

cmake -S plugin -B build-conda -GNinja %CMAKE_ARGS% ^
  -DCMAKE_BUILD_TYPE=Release ^
  -DCMAKE_INSTALL_PREFIX="%PREFIX%" ^
  -DPython_EXECUTABLE="%PYTHON%" ^
  -DOE_PYPROC_PYTHONS="%PYTHON%" ^
  -DOE_PYPROC_BUILD_TESTS=OFF %GUI_ARGS%
if errorlevel 1 exit 1
cmake --build build-conda --parallel %CPU_COUNT%
if errorlevel 1 exit 1
cmake --install build-conda
if errorlevel 1 exit 1

if not exist "%PREFIX%\share\oe-pyproc\templates" mkdir "%PREFIX%\share\oe-pyproc\templates"
copy /y templates\*.py "%PREFIX%\share\oe-pyproc\templates\"
if errorlevel 1 exit 1
"%PYTHON%" "%RECIPE_DIR%\write_build_info.py" "%PREFIX%\share\oe-pyproc\build-info.json"
if errorlevel 1 exit 1
