// PythonProcessor — the Open Ephys GUI 1.0 (plugin API 10) processor "Python Processor".
//
// Runs a user's Python script on the selected stream through the oe-pyproc bridge. The adapter is not
// linked to libpython: the loader validates a Home and loads that Home's libpython and the matching bridge
// (DESIGN §4). The decisions (which Home, which stream, where output events go, status text) live in the
// JUCE-free adapter logic (plugin/adapter_logic/); this class translates between the GUI and that logic.
#pragma once

#include <ProcessorHeaders.h>

#include "oe_pyproc_adapter_logic.h"
#include "oe_pyproc_background_check.h"
#include "oe_pyproc_home_discovery.h"
#include "oe_pyproc_script_loads.h"
#include "oe_pyproc_script_session.h"

#include <array>
#include <map>
#include <memory>
#include <vector>

class PythonProcessor : public GenericProcessor {
public:
    PythonProcessor();
    ~PythonProcessor() override;

    AudioProcessorEditor* createEditor() override;
    void registerParameters() override;
    void updateSettings() override;

    void process(AudioBuffer<float>& buffer) override;
    void handleTTLEvent(TTLEventPtr event) override;
    void handleSpike(SpikePtr spike) override;

    bool startAcquisition() override;
    bool stopAcquisition() override;
    void startRecording() override;
    void stopRecording() override;

    void parameterValueChanged(Parameter* parameter) override;
    String handleConfigMessage(const String& message) override;

    // ---- editor (message thread) ----
    // Re-imports the script off the message thread; allowed during acquisition (the script keeps running, or
    // blocks pass through when it is faulted, until the new import is ready). Returns what it started.
    String reloadScript();
    // Sets the script_path parameter (undoable, saved with the chain).
    void chooseScript(const File& script);
    // A Home picked in the folder chooser becomes the python_home parameter.
    void chooseHome(const File& home);
    oe_pyproc::adapter::StatusInfo getStatus() const;
    String getFullError() const;
    bool isHeadless() const { return headlessMode; }
    // Looks for Homes on this machine (the places `oe-pyproc homes` looks in) and judges each with the loader,
    // on a worker thread; when done, the editor is asked to offer them (takeChooserRequest).
    void findHomes();
    bool findingHomes() const;
    // True once (and then false): the GUI may offer the found Homes, then a folder chooser — after a
    // resolution that found no valid Home (the search ran with the check) or after findHomes().
    bool takeChooserRequest();
    const std::vector<oe_pyproc::adapter::JudgedHome>& foundHomes() const { return judgedHomes; }

private:
    // Resolves the Home (DESIGN §4) while Python runs already (no validation, decided at once); returns the
    // bridge or nullptr.
    const oe_pyproc_bridge_api* ensureRuntime();
    // Before Python runs: validates the Home candidates on a worker thread (the interpreter probe can take
    // seconds); the newest check's result starts Python and loads the script on the message thread.
    void startHomeCheck();
    void finishHomeCheck(const std::vector<std::string>& log, const oe_pyproc::adapter::HomeDecision& decision,
                         const std::vector<oe_pyproc::adapter::JudgedHome>& judged);
    // Acts on a Home decision (message thread): starts Python for Start; returns the bridge or nullptr.
    const oe_pyproc_bridge_api* useHomeDecision(const oe_pyproc::adapter::HomeDecision& decision);
    // Starts importing the script on a worker thread; the session adopts it on the message thread.
    void loadScript(const oe_pyproc_bridge_api* api, const String& scriptPath);
    void finishScriptLoad(const String& scriptPath, int status, double seconds);
    void cancelPendingWork();  // no Home check or script load is wanted any more
    // Brings the session in line with the parameters: load, unload or reinit the script.
    void applyScriptParameter(bool forceReload);
    void selectStream();
    // The watchdog's limits onto the session: the config message's, else the defaults for this block size.
    void applyWatchdog();
    void logLines(const std::vector<std::string>& lines);
    String recordingDirectory() const;

    oe_pyproc::adapter::ScriptSession session;
    oe_pyproc::adapter::StreamChoice selected;
    String loadedScriptPath;  // the path the session holds (to tell a real change from a re-set)
    std::string homeProblem;  // why no Home is used, for the status line
    bool chooserRequested = false;
    bool scriptNeedsLoad = false;   // a script_path set while the chain was loading (no streams yet)
    double watchdogSeconds = -1.0;  // config message "watchdog"; < 0: the default (10 block budgets, >= 1 s)
    double loadWatchdogSeconds = oe_pyproc::adapter::kDefaultLoadWatchdogSeconds;
    std::string checkingHome;  // the Home a running background check looks at first, for the status
    std::unique_ptr<oe_pyproc::adapter::BackgroundChecks> homeChecks;
    std::unique_ptr<oe_pyproc::adapter::ScriptLoads> scriptLoads;      // uses `session`: declared after it
    std::unique_ptr<oe_pyproc::adapter::BackgroundChecks> homeSearch;  // findHomes()
    std::vector<oe_pyproc::adapter::JudgedHome> judgedHomes;           // the last search's result

    std::map<uint16, EventChannel*> ttlOutputChannels;  // one per stream; the selected stream's is used

    // Audio-thread scratch, sized on the message thread (no allocation per block).
    std::vector<float*> channelPointers;
    std::array<oe_pyproc_event_out, 256> drainedEvents{};
    std::array<oe_pyproc::adapter::OutputTtl, 256> placedEvents{};
    oe_pyproc::adapter::ScriptSession::Block* currentBlock = nullptr;  // set during process()

    JUCE_DECLARE_NON_COPYABLE_WITH_LEAK_DETECTOR(PythonProcessor);
};
