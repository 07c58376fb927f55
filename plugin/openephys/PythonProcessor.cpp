#include "PythonProcessor.h"

#include "PythonProcessorEditor.h"

#include <atomic>
#include <mutex>

using namespace oe_pyproc;

namespace {

constexpr int kPluginApi = 10;

uint64_t nextInstanceId() {
    static std::atomic<uint64_t> counter{0};
    return ++counter;
}

// The bridge may log from a script import still running on a worker thread while the GUI exits. The GUI's
// logger is a function-local static made at start-up, so it is destroyed after this adapter's statics: the
// gate below is closed first (under its lock, so no message is inside the logger then) and never destroyed.
struct BridgeLogGate {
    std::mutex mutex;
    bool open = true;
};
BridgeLogGate& bridgeLogGate() {
    static BridgeLogGate* gate = new BridgeLogGate();  // never destroyed: a worker may still reach it at exit
    return *gate;
}
struct CloseBridgeLogAtExit {
    ~CloseBridgeLogAtExit() {
        std::lock_guard<std::mutex> lock(bridgeLogGate().mutex);
        bridgeLogGate().open = false;
    }
} closeBridgeLogAtExit;

// Bridge log messages may arrive on the audio thread: the GUI's logger is thread-safe (it writes to a
// stream under a lock), so forwarding is allowed there; nothing modal is ever shown from it.
void logFromBridge(void*, int level, uint64_t instanceId, const char* message) {
    const String text =
        "[Python Processor " + String(static_cast<int64>(instanceId)) + "] " + String::fromUTF8(message);
    std::lock_guard<std::mutex> lock(bridgeLogGate().mutex);
    if (!bridgeLogGate().open) {
        return;
    }
    if (level >= OE_PYPROC_LOG_ERROR) {
        LOGE(text);
    } else {
        LOGC(text);
    }
}

// Output events the script queued (add_python_event) that no block will carry, as its instance goes away.
void logUndelivered(uint64_t events) {
    if (events > 0) {
        LOGC("Python Processor: ", static_cast<int64>(events),
             " output event(s) queued by the script were dropped: its instance was removed before a block "
             "carried them");
    }
}

}  // namespace

PythonProcessor::PythonProcessor()
    : GenericProcessor("Python Processor"),
      session(nextInstanceId()),
      homeChecks(std::make_unique<adapter::BackgroundChecks>(
          [](std::function<void()> call) { MessageManager::callAsync(std::move(call)); })),
      scriptLoads(std::make_unique<adapter::ScriptLoads>(
          [](std::function<void()> call) { MessageManager::callAsync(std::move(call)); })),
      homeSearch(std::make_unique<adapter::BackgroundChecks>(
          [](std::function<void()> call) { MessageManager::callAsync(std::move(call)); })) {}

PythonProcessor::~PythonProcessor() {
    // First: a Home check or script import still running finishes on its own thread and its result is
    // dropped (no waiting); the session is destroyed after them.
    homeChecks.reset();
    scriptLoads.reset();
    homeSearch.reset();
    logUndelivered(session.close());
}

AudioProcessorEditor* PythonProcessor::createEditor() {
    editor = std::make_unique<PythonProcessorEditor>(this);
    return editor.get();
}

void PythonProcessor::registerParameters() {
    // Names, scope and types as the upstream plugin declares them for GUI 1.0, so saved chains load in both.
    addStringParameter(Parameter::PROCESSOR_SCOPE, "python_home", "Python Home",
                       "Python environment the scripts run in (a venv is allowed); empty: default Home", String(),
                       true);
    addStringParameter(Parameter::PROCESSOR_SCOPE, "script_path", "Script Path",
                       "Python file defining class PyProcessor", String(), false);
    addSelectedStreamParameter(Parameter::PROCESSOR_SCOPE, "current_stream", "Stream",
                               "The stream the script processes", {}, 0, true, true);
    addCategoricalParameter(Parameter::PROCESSOR_SCOPE, "error_policy", "On error",
                            "bypass: stop calling a script that raised until it is reloaded; continue: keep calling",
                            {"bypass", "continue"}, 0, false);
}

// ---------------------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------------------

void PythonProcessor::updateSettings() {
    ttlOutputChannels.clear();
    size_t maxChannels = 0;
    for (auto stream : getDataStreams()) {
        EventChannel::Settings settings{EventChannel::Type::TTL, "Python Processor Output",
                                        "TTL events the script sends with processor.add_python_event",
                                        "pythonprocessor.ttl", getDataStream(stream->getStreamId())};
        settings.maxTTLBits = 64;  // lines 0..63 update the TTL word; 64..255 are still sent as events
        auto* channel = new EventChannel(settings);
        channel->addProcessor(this);
        eventChannels.add(channel);
        ttlOutputChannels[stream->getStreamId()] = channel;
        maxChannels = std::max(maxChannels, static_cast<size_t>(stream->getChannelCount()));
    }
    channelPointers.assign(maxChannels, nullptr);
    selectStream();
}

void PythonProcessor::selectStream() {
    std::vector<adapter::StreamInfo> streams;
    for (auto stream : getDataStreams()) {
        streams.push_back({stream->getStreamId(), stream->getKey().toStdString(),
                           static_cast<int>(stream->getChannelCount()), static_cast<double>(stream->getSampleRate())});
    }
    int requested = 0;
    if (auto* parameter = dynamic_cast<SelectedStreamParameter*>(getParameter("current_stream"))) {
        requested = parameter->getSelectedIndex();
    }
    adapter::StreamChoice choice = adapter::choose_stream(streams, requested);
    const bool changed = adapter::stream_change(selected, choice) == adapter::StreamChange::Reinit;
    selected = choice;

    if (scriptNeedsLoad && selected.valid) {
        applyScriptParameter(false);
    } else if (changed && selected.valid && scriptLoads->loading()) {
        applyScriptParameter(true);  // the running import was for the old stream's shape: start it again
    } else if (changed && selected.valid && session.state().loaded) {
        int status = session.reinit(selected.stream.num_channels, selected.stream.sample_rate);
        if (status != OE_PYPROC_OK) {
            LOGE("Python Processor: re-initialising the script for the new stream failed: ",
                 adapter::error_summary(session.state().last_error));
        }
    }
}

void PythonProcessor::parameterValueChanged(Parameter* parameter) {
    const String name = parameter->getName();
    if (name.equalsIgnoreCase("script_path")) {
        applyScriptParameter(false);
    } else if (name.equalsIgnoreCase("python_home")) {
        const bool scriptSet = getParameter("script_path")->getValueAsString().isNotEmpty();
        if (scriptSet && !session.state().loaded) {
            applyScriptParameter(true);  // a script waiting for a usable Home
        } else if (!Runtime::instance().home().empty()) {
            // One interpreter per process: a different Home is reported, never switched to or rewritten.
            ensureRuntime();
        }
    } else if (name.equalsIgnoreCase("current_stream")) {
        selectStream();
    } else if (name.equalsIgnoreCase("error_policy")) {
        auto policy = adapter::policy_from_string(parameter->getValueAsString().toStdString());
        session.set_policy(policy.value_or(adapter::ErrorPolicy::Bypass));
    }
}

const oe_pyproc_bridge_api* PythonProcessor::ensureRuntime() {
    Runtime& runtime = Runtime::instance();
    const std::string chainHome = getParameter("python_home")->getValueAsString().toStdString();
    const std::string guiRoot = CoreServices::getSavedStateDirectory().getFullPathName().toStdString();
    ValidationOptions options;
    options.bridge_dir = adapter::this_module_directory();

    std::vector<std::string> log;
    auto candidates = adapter::gather_home_candidates(chainHome, guiRoot, kPluginApi, log);
    adapter::HomeDecision decision =
        adapter::decide_home(runtime.home(), candidates, headlessMode,
                             [&](const std::string& path) { return validate_home(path, options); });
    log.insert(log.end(), decision.log.begin(), decision.log.end());
    logLines(log);
    return useHomeDecision(decision);
}

void PythonProcessor::startHomeCheck() {
    const std::string chainHome = getParameter("python_home")->getValueAsString().toStdString();
    const std::string guiRoot = CoreServices::getSavedStateDirectory().getFullPathName().toStdString();
    std::vector<std::string> log;
    std::vector<HomeCandidate> candidates = adapter::gather_home_candidates(chainHome, guiRoot, kPluginApi, log);
    // With no Home set, an interactive GUI looks for Homes to offer (judging them can take a while).
    checkingHome = headlessMode ? "(no Home set)" : "(no Home set; looking for Homes on this machine)";
    for (const HomeCandidate& candidate : candidates) {
        if (!candidate.path.empty()) {
            checkingHome = candidate.path;
            break;
        }
    }
    homeProblem.clear();
    scriptLoads->cancel();  // a Home check supersedes a script import (none runs before Python does anyway)
    LOGC("Python Processor: checking Home ", checkingHome, " in the background");
    // The job runs on a worker thread and may outlive this processor: it uses only what it captured by
    // value. The returned call runs on the message thread, and only while this processor exists.
    homeChecks->start([this, candidates, log, headless = static_cast<bool>(headlessMode),
                       bridgeDir = adapter::this_module_directory()]() -> adapter::BackgroundChecks::Apply {
        ValidationOptions options;
        options.bridge_dir = bridgeDir;
        const adapter::HomeValidator validate = [&](const std::string& path) { return validate_home(path, options); };
        adapter::HomeDecision decision = adapter::decide_home("", candidates, headless, validate);
        std::vector<adapter::JudgedHome> judged;
        if (decision.action == adapter::HomeAction::AskChooser) {
            // No Home known: the chooser offers the Homes on this machine, judged here, off the message thread.
            judged =
                adapter::judge_homes(adapter::chooser_homes(candidates, adapter::this_process_environment()), validate);
        }
        return [this, log, decision, judged]() { finishHomeCheck(log, decision, judged); };
    });
}

void PythonProcessor::finishHomeCheck(const std::vector<std::string>& log, const adapter::HomeDecision& decision,
                                      const std::vector<adapter::JudgedHome>& judged) {
    checkingHome.clear();
    if (decision.action == adapter::HomeAction::AskChooser) {
        judgedHomes = judged;
    }
    std::vector<std::string> lines = log;
    lines.insert(lines.end(), decision.log.begin(), decision.log.end());
    logLines(lines);
    const String scriptPath = getParameter("script_path")->getValueAsString();
    if (scriptPath.isEmpty() || !selected.valid) {
        return;
    }
    const oe_pyproc_bridge_api* api = nullptr;
    if (!Runtime::instance().home().empty()) {
        api = ensureRuntime();  // another processor started Python meanwhile: its Home or a refusal
    } else {
        api = useHomeDecision(decision);
    }
    if (api == nullptr) {
        session.set_external_error(homeProblem);
        return;
    }
    loadScript(api, scriptPath);
}

const oe_pyproc_bridge_api* PythonProcessor::useHomeDecision(const adapter::HomeDecision& decision) {
    Runtime& runtime = Runtime::instance();
    switch (decision.action) {
        case adapter::HomeAction::UseRunning: homeProblem.clear(); return runtime.api();
        case adapter::HomeAction::Refuse: homeProblem = decision.message; return nullptr;
        case adapter::HomeAction::AskChooser:
            homeProblem = decision.message;
            chooserRequested = true;
            return nullptr;
        case adapter::HomeAction::NoHome: homeProblem = decision.message; return nullptr;
        case adapter::HomeAction::Start: break;
    }

    std::string error;
    const oe_pyproc_bridge_api* api = runtime.start(*decision.validation, adapter::this_module_directory(), error);
    if (api == nullptr) {
        homeProblem = "Python could not start with " + decision.validation->info.path + ": " + error;
        LOGE("Python Processor: ", homeProblem);
        return nullptr;
    }
    api->set_log_callback(&logFromBridge, nullptr);
    homeProblem.clear();
    LOGC("Python Processor: Python ", api->python_version(), " started from ", runtime.home(), " (",
         to_string(decision.origin), ")");
    return api;
}

void PythonProcessor::applyScriptParameter(bool forceReload) {
    const String scriptPath = getParameter("script_path")->getValueAsString();

    if (scriptPath.isEmpty()) {
        cancelPendingWork();
        scriptNeedsLoad = false;
        loadedScriptPath.clear();
        logUndelivered(session.unload());
        return;
    }
    if (!forceReload && ((scriptPath == loadedScriptPath && session.state().loaded) ||
                         scriptPath.toStdString() == scriptLoads->loading_path())) {
        return;  // the same path set again (chain reload of an unchanged chain), or already being imported
    }
    if (!selected.valid) {
        scriptNeedsLoad = true;  // loaded when the processor gets a stream (updateSettings)
        return;
    }
    scriptNeedsLoad = false;

    const File scriptFile(scriptPath);
    if (!scriptFile.existsAsFile()) {
        cancelPendingWork();
        loadedScriptPath.clear();
        logUndelivered(session.unload());
        session.set_external_error("script not found: " + scriptPath.toStdString());
        LOGE("Python Processor: script not found: ", scriptPath);
        return;
    }
    if (Runtime::instance().api() == nullptr) {
        startHomeCheck();  // returns at once; the script loads when the check succeeds
        return;
    }
    homeChecks->cancel();  // Python runs: an older check's result is no longer wanted
    checkingHome.clear();
    const oe_pyproc_bridge_api* api = ensureRuntime();
    if (api == nullptr) {
        session.set_external_error(homeProblem);
        return;
    }
    loadScript(api, scriptPath);
}

void PythonProcessor::loadScript(const oe_pyproc_bridge_api* api, const String& scriptPath) {
    session.attach(api);
    session.set_policy(adapter::policy_from_string(getParameter("error_policy")->getValueAsString().toStdString())
                           .value_or(adapter::ErrorPolicy::Bypass));
    if (CoreServices::getAcquisitionStatus()) {
        session.prepare(std::max(getBlockSize(), 1024) * 2);  // the adopted instance gets this size
    }
    LOGC("Python Processor: loading ", scriptPath, " in the background");
    // The import runs on a worker thread; the finish runs on the message thread, only while this processor
    // exists and only for the newest load (a newer script, a reload or a cleared script supersedes it).
    scriptLoads->start(
        session, api, scriptPath.toStdString(), selected.stream.num_channels, selected.stream.sample_rate,
        [this, scriptPath](int status, double seconds) { finishScriptLoad(scriptPath, status, seconds); });
}

void PythonProcessor::finishScriptLoad(const String& scriptPath, int status, double seconds) {
    loadedScriptPath = scriptPath;
    if (status != OE_PYPROC_OK) {
        LOGE("Python Processor: loading ", scriptPath, " failed:\n", session.state().last_error);
        CoreServices::sendStatusMessage("Python Processor: loading " + File(scriptPath).getFileName() + " failed");
        return;
    }
    LOGC("Python Processor: loaded ", scriptPath, " for ", selected.stream.num_channels, " channels at ",
         selected.stream.sample_rate, " Hz in ", String(seconds, 2), " s");
    CoreServices::sendStatusMessage("Python Processor: loaded " + File(scriptPath).getFileName());
}

void PythonProcessor::cancelPendingWork() {
    homeChecks->cancel();
    checkingHome.clear();
    scriptLoads->cancel();
}

void PythonProcessor::logLines(const std::vector<std::string>& lines) {
    for (const auto& line : lines) {
        LOGC("Python Processor: Home ", line);
    }
}

// ---------------------------------------------------------------------------------------------------------
// Editor / config messages (message thread)
// ---------------------------------------------------------------------------------------------------------

String PythonProcessor::reloadScript() {
    if (getParameter("script_path")->getValueAsString().isEmpty()) {
        return "no script selected";
    }
    // A fresh import off the message thread (also when loaded: the script's imports may be slow); during
    // acquisition the adopted script gets start_acquisition from the session.
    applyScriptParameter(true);
    if (scriptLoads->loading()) {
        return "reloading " + File(scriptLoads->loading_path()).getFileName();
    }
    if (!checkingHome.empty()) {
        return "waiting for the Home check of " + String::fromUTF8(checkingHome.c_str());
    }
    return "reload failed: " + String(adapter::error_summary(session.state().last_error));
}

void PythonProcessor::chooseScript(const File& script) {
    getParameter("script_path")->setNextValue(script.getFullPathName());
}

void PythonProcessor::chooseHome(const File& home) {
    getParameter("python_home")->setNextValue(home.getFullPathName());
}

void PythonProcessor::findHomes() {
    const std::string chainHome = getParameter("python_home")->getValueAsString().toStdString();
    const std::string guiRoot = CoreServices::getSavedStateDirectory().getFullPathName().toStdString();
    std::vector<std::string> log;
    std::vector<HomeCandidate> known = adapter::gather_home_candidates(chainHome, guiRoot, kPluginApi, log);
    // Like the Home check's job: values only on the worker; the result is applied while this processor exists.
    homeSearch->start(
        [this, known, bridgeDir = adapter::this_module_directory()]() -> adapter::BackgroundChecks::Apply {
            ValidationOptions options;
            options.bridge_dir = bridgeDir;
            auto judged = adapter::judge_homes(adapter::chooser_homes(known, adapter::this_process_environment()),
                                               [&](const std::string& path) { return validate_home(path, options); });
            return [this, judged]() {
                judgedHomes = judged;
                chooserRequested = true;
            };
        });
}

bool PythonProcessor::findingHomes() const {
    return homeSearch->checking();
}

bool PythonProcessor::takeChooserRequest() {
    const bool requested = chooserRequested && !headlessMode;
    chooserRequested = false;
    return requested;
}

adapter::StatusInfo PythonProcessor::getStatus() const {
    adapter::StatusInfo status;
    Runtime& runtime = Runtime::instance();
    status.home = runtime.home();
    if (const oe_pyproc_bridge_api* api = runtime.api()) {
        status.python_version = String(api->python_version()).upToFirstOccurrenceOf(" ", false, false).toStdString();
    }
    adapter::SessionState state = session.state();
    status.script_path = getParameter("script_path")->getValueAsString().toStdString();
    status.loaded = state.loaded;
    status.faulted = state.faulted;
    status.policy = session.policy();
    status.last_error = state.last_error;
    status.home_problem = homeProblem;
    status.checking_home = checkingHome;
    status.loading_script = scriptLoads->loading_path();
    status.timing = session.timer().snapshot();
    return status;
}

String PythonProcessor::getFullError() const {
    return String::fromUTF8(session.state().last_error.c_str());
}

String PythonProcessor::handleConfigMessage(const String& message) {
    adapter::ConfigCommand command = adapter::parse_config_message(message.toStdString());
    switch (command.kind) {
        case adapter::ConfigCommand::Kind::Reload: return reloadScript();
        case adapter::ConfigCommand::Kind::SetPolicy:
            getParameter("error_policy")->setNextValue(command.policy == adapter::ErrorPolicy::Continue ? 1 : 0);
            return String("error policy: ") + adapter::to_string(command.policy);
        case adapter::ConfigCommand::Kind::SetWatchdog:
        case adapter::ConfigCommand::Kind::SetLoadWatchdog: {
            const bool load = command.kind == adapter::ConfigCommand::Kind::SetLoadWatchdog;
            (load ? loadWatchdogSeconds : watchdogSeconds) =
                command.seconds >= 0 || !load ? command.seconds : adapter::kDefaultLoadWatchdogSeconds;
            applyWatchdog();
            return String(load ? "load watchdog: " : "watchdog: ") +
                   (command.seconds < 0 ? String("default") : String(command.seconds) + " s");
        }
        case adapter::ConfigCommand::Kind::Status: return String::fromUTF8(adapter::status_json(getStatus()).c_str());
        case adapter::ConfigCommand::Kind::LastError: return getFullError();
        case adapter::ConfigCommand::Kind::Unknown: break;
    }
    return String::fromUTF8(command.problem.c_str());
}

// ---------------------------------------------------------------------------------------------------------
// Acquisition
// ---------------------------------------------------------------------------------------------------------

bool PythonProcessor::startAcquisition() {
    // Never refuses: a missing or faulted script only means blocks pass through unchanged.
    Runtime& runtime = Runtime::instance();
    if (const oe_pyproc_bridge_api* api = runtime.api()) {
        api->reset_thread_states();  // the audio device (re)starts: its thread gets a fresh thread state
    }
    session.prepare(std::max(getBlockSize(), 1024) * 2);
    applyWatchdog();
    int status = session.start_acquisition();
    if (status == OE_PYPROC_SCRIPT_ERROR) {
        LOGE("Python Processor: start_acquisition raised:\n", session.state().last_error);
    }
    return true;
}

bool PythonProcessor::stopAcquisition() {
    int status = session.stop_acquisition();
    if (status == OE_PYPROC_SCRIPT_ERROR) {
        LOGE("Python Processor: stop_acquisition raised:\n", session.state().last_error);
    }
    return true;
}

void PythonProcessor::applyWatchdog() {
    const double callLimit = watchdogSeconds >= 0 ? watchdogSeconds
                                                  : adapter::default_call_limit_seconds(std::max(getBlockSize(), 1),
                                                                                        selected.stream.sample_rate);
    session.set_watchdog(callLimit, loadWatchdogSeconds);
}

String PythonProcessor::recordingDirectory() const {
    return CoreServices::getRecordingParentDirectory()
        .getChildFile(CoreServices::getRecordingDirectoryName())
        .getFullPathName();
}

void PythonProcessor::startRecording() {
    int status = session.start_recording(recordingDirectory().toStdString());
    if (status == OE_PYPROC_SCRIPT_ERROR) {
        LOGE("Python Processor: start_recording raised:\n", session.state().last_error);
    }
}

void PythonProcessor::stopRecording() {
    int status = session.stop_recording();
    if (status == OE_PYPROC_SCRIPT_ERROR) {
        LOGE("Python Processor: stop_recording raised:\n", session.state().last_error);
    }
}

// ---------------------------------------------------------------------------------------------------------
// Audio thread
// ---------------------------------------------------------------------------------------------------------

void PythonProcessor::process(AudioBuffer<float>& buffer) {
    if (!selected.valid) {
        return;
    }
    adapter::ScriptSession::Block block(session);
    if (!block.active()) {
        return;  // no script, or a reload holds the session: the block passes through unchanged
    }
    const uint16 streamId = selected.stream.id;
    const int numSamples = static_cast<int>(getNumSamplesInBlock(streamId));
    const int64 firstSample = getFirstSampleNumberForBlock(streamId);

    // Events of this block first (handleTTLEvent/handleSpike forward the selected stream's ones).
    currentBlock = &block;
    checkForEvents(true);
    currentBlock = nullptr;

    const int numChannels = std::min(selected.stream.num_channels, static_cast<int>(channelPointers.size()));
    if (numSamples > 0 && numChannels > 0) {
        for (int i = 0; i < numChannels; ++i) {
            // getWritePointer clears JUCE's isClear flag so downstream sees the script's output.
            channelPointers[static_cast<size_t>(i)] = buffer.getWritePointer(getGlobalChannelIndex(streamId, i));
        }
        int64_t rowStride = numChannels > 1 ? channelPointers[1] - channelPointers[0] : numSamples;
        for (int i = 1; i < numChannels && rowStride > 0; ++i) {
            if (channelPointers[static_cast<size_t>(i)] != channelPointers[0] + i * rowStride) {
                rowStride = 0;
            }
        }
        if (rowStride < numSamples) {
            rowStride = 0;  // overlapping or reversed rows: not uniformly spaced for the bridge
        }
        oe_pyproc_block data{channelPointers.data(), numChannels, numSamples, rowStride, firstSample};
        block.process(data, selected.stream.sample_rate);
    }

    // Events the script emitted (from process, the event handlers or its own threads), at their offsets.
    if (numSamples > 0) {
        auto found = ttlOutputChannels.find(streamId);
        const int drained = block.drain(drainedEvents.data(), static_cast<int>(drainedEvents.size()));
        int dropped = 0;
        const int placed = adapter::place_output_events(drainedEvents.data(), drained, firstSample, numSamples,
                                                        placedEvents.data(), dropped);
        if (found != ttlOutputChannels.end()) {
            for (int i = 0; i < placed; ++i) {
                const adapter::OutputTtl& ttl = placedEvents[static_cast<size_t>(i)];
                TTLEventPtr event =
                    TTLEvent::createTTLEvent(found->second, ttl.sample_number, static_cast<uint8>(ttl.line), ttl.state);
                addEvent(event, ttl.sample_in_block);
            }
        }
    }
}

void PythonProcessor::handleTTLEvent(TTLEventPtr event) {
    if (currentBlock == nullptr || !adapter::forward_event_to_script(event->getStreamId(), selected)) {
        return;
    }
    const EventChannel* info = event->getChannelInfo();
    // The channel name is copied into a fixed buffer: no allocation on the audio thread.
    char channelName[128];
    info->getName().copyToUTF8(channelName, sizeof channelName);
    oe_pyproc_ttl_event ttl{static_cast<int32_t>(info->getSourceNodeId()), channelName, event->getSampleNumber(),
                            static_cast<int32_t>(event->getLine()), event->getState() ? 1 : 0};
    currentBlock->ttl_event(ttl);
}

void PythonProcessor::handleSpike(SpikePtr spike) {
    if (currentBlock == nullptr || !adapter::forward_event_to_script(spike->getStreamId(), selected)) {
        return;
    }
    const SpikeChannel* info = spike->getChannelInfo();
    char electrodeName[128];
    info->getName().copyToUTF8(electrodeName, sizeof electrodeName);
    oe_pyproc_spike data{static_cast<int32_t>(info->getSourceNodeId()),
                         electrodeName,
                         static_cast<int32_t>(info->getNumChannels()),
                         static_cast<int32_t>(info->getTotalSamples()),
                         spike->getSampleNumber(),
                         static_cast<int32_t>(spike->getSortedId()),
                         spike->getDataPointer()};
    currentBlock->spike(data);
}
