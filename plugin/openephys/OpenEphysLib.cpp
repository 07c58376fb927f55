// Entry points the Open Ephys GUI looks up in every plugin library (plugin API 10).
#include <PluginInfo.h>

#include "PythonProcessor.h"

#ifdef _WIN32
#include <windows.h>
#define OE_PYPROC_PLUGIN_EXPORT __declspec(dllexport)
#else
#define OE_PYPROC_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

#ifndef OE_PYPROC_VERSION
#error "OE_PYPROC_VERSION must be defined by the build"
#endif

extern "C" OE_PYPROC_PLUGIN_EXPORT void getLibInfo(Plugin::LibraryInfo* info) {
    info->apiVersion = PLUGIN_API_VER;
    // Library and processor name as upstream's, so chains saved with either plugin load in the other.
    info->name = "Python Processor";
    info->libVersion = OE_PYPROC_VERSION;
    info->numPlugins = 1;
}

extern "C" OE_PYPROC_PLUGIN_EXPORT int getPluginInfo(int index, Plugin::PluginInfo* info) {
    if (index != 0) {
        return -1;
    }
    info->type = Plugin::Type::PROCESSOR;
    info->processor.name = "Python Processor";
    info->processor.type = Plugin::Processor::Type::FILTER;
    info->processor.creator = &(Plugin::createProcessor<PythonProcessor>);
    return 0;
}

#ifdef _WIN32
// Unverified on Windows: nothing to do on attach/detach; Python is started lazily by the processor.
BOOL WINAPI DllMain(HINSTANCE, DWORD, LPVOID) {
    return TRUE;
}
#endif
