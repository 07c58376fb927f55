// oe-pyproc-host: runs processor scripts through the loader and bridge exactly as the Open Ephys adapter
// does, on a separate audio thread over a JUCE-like buffer. Flags and report: plugin/host/README.md.
#include "oe_pyproc_adapter_logic.h"
#include "oe_pyproc_loader.h"
#include "oe_pyproc_script_session.h"

#include "options.h"
#include "report.h"
#include "streams.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#if defined(_WIN32)
#include <windows.h>
#include <shellapi.h>
#include <unistd.h>  // mingw-w64's: write, dup, dup2, STDOUT_FILENO
#else
#include <csignal>
#include <sys/resource.h>
#include <unistd.h>
#endif
#if defined(__linux__)
#include <sys/prctl.h>
#endif

namespace fs = std::filesystem;
using namespace oe_pyproc;
using namespace oe_pyproc::host;

namespace {

std::string executable_dir() {
#if defined(_WIN32)
    // UTF-8, as every path inside the loader (the narrow fs::path::string() would use the ANSI code page).
    std::wstring self(32768, L'\0');
    self.resize(GetModuleFileNameW(nullptr, self.data(), static_cast<DWORD>(self.size())));
    return self.empty() ? fs::current_path().u8string() : fs::path(self).parent_path().u8string();
#else
    std::error_code error;
    const fs::path self = fs::read_symlink("/proc/self/exe", error);
    return error ? fs::current_path().string() : self.parent_path().string();
#endif
}

std::string find_bridge_dir(const Options& options) {
    if (!options.bridge_dir.empty()) {
        return options.bridge_dir;
    }
    const fs::path exe_dir = fs::u8path(executable_dir());
    const fs::path installed = exe_dir.parent_path() / "lib" / "oe-pyproc" / "plugins-api10" / "oe-pyproc";
    std::error_code error;
    if (fs::is_directory(installed, error)) {
        return installed.u8string();
    }
    return exe_dir.u8string();
}

#if defined(_WIN32)
enum { RUSAGE_SELF, RUSAGE_THREAD };
double filetime_seconds(const FILETIME& time) {
    return static_cast<double>((static_cast<uint64_t>(time.dwHighDateTime) << 32) | time.dwLowDateTime) / 1e7;
}
#endif

// CPU time of the process (RUSAGE_SELF: all threads, numpy's BLAS workers included) or the calling thread.
double cpu_seconds(int who) {
#if defined(_WIN32)
    FILETIME created{}, exited{}, kernel{}, user{};
    const bool got = who == RUSAGE_SELF ? GetProcessTimes(GetCurrentProcess(), &created, &exited, &kernel, &user)
                                        : GetThreadTimes(GetCurrentThread(), &created, &exited, &kernel, &user);
    return got ? filetime_seconds(kernel) + filetime_seconds(user) : 0.0;
#else
    rusage usage{};
    getrusage(who, &usage);
    return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
#endif
}

// Messages from the bridge (any thread).
struct LogSink {
    std::mutex mutex;
    Report* report = nullptr;
    const std::atomic<int64_t>* current_block = nullptr;
    bool echo = true;
};

void on_bridge_log(void* user, int level, uint64_t instance_id, const char* message) {
    auto* sink = static_cast<LogSink*>(user);
    std::lock_guard<std::mutex> lock(sink->mutex);
    if (sink->echo) {
        std::fprintf(stderr, "oe-pyproc-host: [%s] instance %llu: %s\n",
                     level == OE_PYPROC_LOG_ERROR     ? "error"
                     : level == OE_PYPROC_LOG_WARNING ? "warning"
                                                      : "info",
                     static_cast<unsigned long long>(instance_id), message);
    }
    if (level == OE_PYPROC_LOG_WARNING && sink->report != nullptr) {
        sink->report->warnings.push_back(
            WarningEntry{static_cast<int>(instance_id) - 1, sink->current_block->load(), message});
    }
}

// A script error, or an internal error of the bridge (out of memory: it faulted the instance).
bool failed(int status) {
    return status == OE_PYPROC_SCRIPT_ERROR || status == OE_PYPROC_INTERNAL_ERROR;
}

struct LiveInstance {
    std::unique_ptr<adapter::ScriptSession> session;  // null once removed
    InstanceReport* report = nullptr;
};

// Work the audio thread hands to the message thread (the host's main thread, where the GUI's editor and
// config messages run): reloads and removals. With `wait`, the audio thread blocks until it is done (a
// deterministic block boundary for tests); without, it goes on and blocks that find the session busy pass
// through, as in the GUI.
class MessageQueue {
public:
    enum class Kind { Reload, Remove, AudioDone };
    struct Request {
        Kind kind = Kind::AudioDone;
        int instance = -1;
        int64_t block = -1;
        int64_t first_sample = -1;
        uint64_t ticket = 0;
    };

    uint64_t post(Request request) {
        std::lock_guard<std::mutex> lock(mutex_);
        request.ticket = ++posted_;
        pending_.push_back(request);
        changed_.notify_all();
        return request.ticket;
    }
    void wait_done(uint64_t ticket) {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [&] { return completed_ >= ticket; });
    }
    Request take() {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [&] { return !pending_.empty(); });
        Request request = pending_.front();
        pending_.pop_front();
        return request;
    }
    void complete(uint64_t ticket) {
        std::lock_guard<std::mutex> lock(mutex_);
        completed_ = ticket;
        changed_.notify_all();
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<Request> pending_;
    uint64_t posted_ = 0;
    uint64_t completed_ = 0;
};

// Runs the instances through the adapter's own code (adapter_logic's ScriptSession and event placement):
// load, start/stop and reloads on the message thread (the caller's), blocks on an audio thread.
class HostRun {
public:
    HostRun(const Options& options, const oe_pyproc_bridge_api& api, Report& report)
        : options_(options), api_(api), report_(report) {}

    int load_instances() {
        for (int index = 0; index < options_.instances; ++index) {
            InstanceReport& entry = report_.instances[static_cast<size_t>(index)];
            auto session = std::make_unique<adapter::ScriptSession>(static_cast<uint64_t>(index + 1));
            session->attach(&api_);
            if (!session->attached()) {
                report_.fatal = Fatal{"python", "could not create a bridge instance"};
                return kExitHome;
            }
            session->set_policy(options_.policy_continue ? adapter::ErrorPolicy::Continue
                                                         : adapter::ErrorPolicy::Bypass);
            session->set_zero_copy(options_.zero_copy);
            session->set_watchdog(options_.call_limit_s(), options_.load_watchdog_s);
            const int status = session->load(entry.script, options_.channels, options_.sample_rate);
            live_.push_back(LiveInstance{std::move(session), &entry});
            if (status != OE_PYPROC_OK) {
                const std::string error = live_.back().session->state().last_error;
                report_.fatal = Fatal{"script", "instance " + std::to_string(index) + ": " + entry.script +
                                                    " could not be loaded:\n" + error};
                add_error(index, -1, -1, error);
                return kExitScript;
            }
            if (live_.back().session->prepare(options_.max_block_samples()) != OE_PYPROC_OK) {
                const std::string error = live_.back().session->state().last_error;
                report_.fatal = Fatal{"internal", "instance " + std::to_string(index) + ": buffers for " +
                                                      std::to_string(options_.channels) + " channels x " +
                                                      std::to_string(options_.max_block_samples()) +
                                                      " samples could not be allocated:\n" + error};
                add_error(index, -1, -1, error);
                return kExitInternal;
            }
        }
        return kExitOk;
    }

    void start() {
        for_each_session(&adapter::ScriptSession::start_acquisition);
        if (!options_.record_dir.empty()) {
            for (size_t i = 0; i < live_.size(); ++i) {
                if (failed(live_[i].session->start_recording(options_.record_dir))) {
                    add_error(static_cast<int>(i), -1, -1, live_[i].session->state().last_error);
                }
            }
        }
    }

    void stop() {
        if (!options_.record_dir.empty()) {
            for_each_session(&adapter::ScriptSession::stop_recording);
        }
        for_each_session(&adapter::ScriptSession::stop_acquisition);
    }

    // Runs blocks until the source is exhausted, splitting the run over audio threads; the calling thread
    // serves the message queue meanwhile.
    int run(BlockSource& source, OutputWriter* output) {
        AudioBuffer buffer(options_.channels, options_.callback_size);
        std::mt19937_64 jitter_rng(options_.seed * 7919 + 17);
        std::uniform_int_distribution<int> jitter(-options_.block_jitter, options_.block_jitter);
        const int segments = options_.audio_restarts + 1;
        const int64_t planned_blocks = source.planned_blocks(options_.block_size);
        int io_status = kExitOk;
        int64_t first_sample = 0;
        int64_t block = 0;
        bool finished = false;
        // Everything the audio thread fills is allocated here, before it starts.
        BlockEvents events;
        events.ttl.reserve(1024);
        events.spikes.reserve(1024);
        reserve_timings(planned_blocks);
        const auto wall_start = std::chrono::steady_clock::now();
        const double cpu_start = cpu_seconds(RUSAGE_SELF);
        for (int segment = 0; segment < segments && !finished; ++segment) {
            const int64_t segment_end =
                segment + 1 == segments || planned_blocks <= 0 ? INT64_MAX : planned_blocks * (segment + 1) / segments;
            const auto run_audio = [&] {
                while (block < segment_end) {
                    const int wanted = options_.block_size + jitter(jitter_rng);
                    events.clear();
                    const int samples = source.next_block(buffer, first_sample, wanted, events);
                    if (samples < 0) {
                        io_status = kExitIo;
                        finished = true;
                        return;
                    }
                    if (samples == 0) {
                        finished = true;
                        return;
                    }
                    current_block_.store(block);
                    run_block(buffer, block, first_sample, samples, events);
                    if (output != nullptr && !output->write(buffer, samples)) {
                        io_status = kExitIo;
                        finished = true;
                        return;
                    }
                    first_sample += samples;
                    samples_done_.store(first_sample);
                    ++block;
                    if (options_.realtime) {
                        std::this_thread::sleep_until(
                            wall_start +
                            std::chrono::duration<double>(static_cast<double>(first_sample) / options_.sample_rate));
                    }
                }
            };
            std::thread audio([&] {
                const double thread_cpu_start = cpu_seconds(RUSAGE_THREAD);
                struct AtEnd {
                    double start;
                    double& total;
                    MessageQueue& queue;
                    ~AtEnd() {
                        total += cpu_seconds(RUSAGE_THREAD) - start;
                        queue.post({MessageQueue::Kind::AudioDone});
                    }
                } at_end{thread_cpu_start, report_.run.audio_cpu_time_s, messages_};
                audio_thread_id_.store(std::this_thread::get_id());
                try {
                    run_audio();
                } catch (const std::exception& error) {
                    // std::bad_alloc under a memory limit: the run ends with a clear error, never an abort.
                    internal_error_ = error.what();
                    io_status = kExitInternal;
                    finished = true;
                }
            });
            serve_messages();
            audio.join();
            ++report_.run.audio_threads;
            if (segment + 1 < segments) {
                api_.reset_thread_states();  // device restart: the next audio thread gets a new thread state
            }
        }
        report_.run.wall_time_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
        report_.run.cpu_time_s = cpu_seconds(RUSAGE_SELF) - cpu_start;
        report_.stream.blocks = block;
        report_.stream.samples = first_sample;
        if (output != nullptr && !output->finish()) {
            io_status = kExitIo;
        }
        if (io_status == kExitInternal) {
            report_.fatal =
                Fatal{"internal", "the audio thread stopped: " + internal_error_ +
                                      (internal_error_ == std::bad_alloc().what() ? " (out of memory)" : "")};
        } else if (io_status != kExitOk && !report_.fatal) {
            report_.fatal = Fatal{"io", source.error().empty() ? (output ? output->error() : "") : source.error()};
        }
        return io_status;
    }

    void destroy_all() {
        for (auto& live : live_) {
            remove(live);
        }
    }

    const std::atomic<int64_t>& current_block() const { return current_block_; }

    // The bridge's watchdog gave up on a call that its exception could not stop (C code, a sleep). Called on
    // the watchdog thread while that call still runs (on the audio thread, or on this one during a load):
    // nothing else touches the report meanwhile, except a concurrent reload's audio thread (--reload-concurrent).
    // The report says what happened and how far the stream got; the host then ends (finish + _exit).
    void record_abandoned(uint64_t instance_id, const char* method, double seconds, double limit_seconds) {
        const int index = static_cast<int>(instance_id) - 1;
        char numbers[128];
        std::snprintf(numbers, sizeof(numbers), " ran for %.3g s, over the watchdog limit of %.3g s", seconds,
                      limit_seconds);
        const bool loading = std::string(method) == "load";
        const std::string message =
            (loading ? std::string("loading the script (import and __init__)") : method + std::string("()")) + numbers +
            ", and could not be interrupted (it is in C code or a sleep): the instance is abandoned and "
            "the run ends here";
        report_.fatal = Fatal{"watchdog", "instance " + std::to_string(index) + ": " + message};
        add_error(index, loading ? -1 : current_block_.load(), -1, std::string("in ") + method + ":\n" + message);
        report_.stream.blocks = std::max<int64_t>(current_block_.load(), 0);
        report_.stream.samples = samples_done_.load();
        for (size_t i = 0; i < live_.size() && i < report_.instances.size(); ++i) {
            const oe_pyproc_instance_state state =
                live_[i].session ? live_[i].session->bridge_state_now() : oe_pyproc_instance_state{};
            InstanceReport& entry = *live_[i].report;
            entry.faulted = state.faulted != 0 || static_cast<int>(i) == index;
            entry.error_count = state.error_count + (static_cast<int>(i) == index ? 1 : 0);
            entry.blocks_processed = state.blocks_processed;
            entry.blocks_bypassed = state.blocks_bypassed;
            entry.events_dropped = state.events_dropped;
        }
        if (index >= 0 && static_cast<size_t>(index) < report_.instances.size()) {
            report_.instances[static_cast<size_t>(index)].faulted = true;
        }
    }

private:
    void for_each_session(int (adapter::ScriptSession::*method)()) {
        for (size_t i = 0; i < live_.size(); ++i) {
            if (live_[i].session && failed((live_[i].session.get()->*method)())) {
                add_error(static_cast<int>(i), -1, -1, live_[i].session->state().last_error);
            }
        }
    }

    void add_error(int instance, int64_t block, int64_t sample_number, const std::string& text) {
        std::lock_guard<std::mutex> lock(errors_mutex_);
        ++report_.error_total;
        if (report_.errors.size() >= 1000) {
            return;
        }
        ErrorEntry entry;
        entry.instance = instance;
        entry.block = block;
        entry.sample_number = sample_number;
        // "in <method>:\n<traceback>"
        const auto newline = text.find('\n');
        const std::string head = newline == std::string::npos ? text : text.substr(0, newline);
        entry.method = head.rfind("in ", 0) == 0 && head.back() == ':' ? head.substr(3, head.size() - 4) : "";
        entry.traceback = newline == std::string::npos ? text : text.substr(newline + 1);
        std::string body = entry.traceback;
        while (!body.empty() && (body.back() == '\n' || body.back() == ' ')) {
            body.pop_back();
        }
        const auto last = body.rfind('\n');
        entry.message = last == std::string::npos ? body : body.substr(last + 1);
        report_.errors.push_back(std::move(entry));
    }

    // Room for every block's timings (+1/8 for the jitter), at most kMaxBlockTimings in the per-block list.
    void reserve_timings(int64_t planned_blocks) {
        const size_t expected =
            planned_blocks > 0 ? static_cast<size_t>(planned_blocks + planned_blocks / 8 + 16) : kMaxBlockTimings;
        for (auto& live : live_) {
            InstanceReport& entry = *live.report;
            entry.block_budget_percent.reserve(std::min(expected, kMaxBlockTimings));
            entry.overhead_ns.reserve(expected);
            entry.script_ns.reserve(expected);
            entry.gil_wait_ns.reserve(expected);
            entry.budget_percent.reserve(expected);
        }
    }

    // Message thread: the instance's counters into its report, then the instance is destroyed; output events
    // it had queued and that no block will carry any more are counted as dropped.
    void remove(LiveInstance& live) {
        if (!live.session) {
            return;
        }
        const oe_pyproc_instance_state state = live.session->bridge_state();
        InstanceReport& entry = *live.report;
        entry.faulted = state.faulted != 0;
        entry.error_count = state.error_count;
        entry.blocks_processed = state.blocks_processed;
        entry.blocks_bypassed = state.blocks_bypassed;
        entry.events_dropped = state.events_dropped;
        entry.blocks_passed_busy = live.session->blocks_skipped_busy();
        entry.events_dropped_at_removal = live.session->close();
        live.session.reset();
    }

    // Message thread: serves the audio thread's requests until it ends.
    void serve_messages() {
        for (;;) {
            const MessageQueue::Request request = messages_.take();
            if (request.kind == MessageQueue::Kind::AudioDone) {
                messages_.complete(request.ticket);
                return;
            }
            if (request.kind == MessageQueue::Kind::Remove) {
                LiveInstance& live = live_[static_cast<size_t>(request.instance)];
                remove(live);
                live.report->removed_at_block = request.block;
            } else {
                reload_all(request);
            }
            messages_.complete(request.ticket);
        }
    }

    void reload_all(const MessageQueue::Request& request) {
        if (options_.reload_wait_stdin) {
            std::fprintf(stderr, "oe-pyproc-host: waiting for stdin to reload\n");
            std::fflush(stderr);
            std::string line;
            std::getline(std::cin, line);
        }
        ReloadEntry reload;
        reload.requested_at_block = request.block;
        reload.started_at_block = current_block_.load();
        const auto started = std::chrono::steady_clock::now();
        reload.ok = true;
        for (size_t i = 0; i < live_.size(); ++i) {
            if (live_[i].session && live_[i].session->reload() != OE_PYPROC_OK) {
                reload.ok = false;
                add_error(static_cast<int>(i), request.block, request.first_sample,
                          live_[i].session->state().last_error);
            }
        }
        reload.finished_at_block = current_block_.load();
        reload.duration_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        reload.waited = !options_.reload_concurrent;
        reload.on_audio_thread = std::this_thread::get_id() == audio_thread_id_.load();
        report_.reloads.push_back(reload);
    }

    void deliver(adapter::ScriptSession::Block& session_block, size_t instance, const TtlEvent& ttl, int64_t block,
                 int64_t sample_number) {
        oe_pyproc_ttl_event event{options_.source_node, "TTL", ttl.sample_number, ttl.line, ttl.state ? 1 : 0};
        if (failed(session_block.ttl_event(event))) {
            add_error(static_cast<int>(instance), block, sample_number, session_block.last_error());
        }
    }

    void deliver(adapter::ScriptSession::Block& session_block, size_t instance, const SpikeEvent& spike, int64_t block,
                 int64_t sample_number) {
        oe_pyproc_spike event{spike.source_node,   spike.electrode.c_str(), spike.num_channels,   spike.num_samples,
                              spike.sample_number, spike.sorted_id,         spike.waveform.data()};
        if (failed(session_block.spike(event))) {
            add_error(static_cast<int>(instance), block, sample_number, session_block.last_error());
        }
    }

    void run_block(AudioBuffer& buffer, int64_t block, int64_t position, int samples, const BlockEvents& events) {
        // The script's numbering: --first-sample-number plus the position in the stream.
        const int64_t first_sample = options_.first_sample_number + position;
        for (const auto& removal : options_.removals) {
            if (removal.block == block && live_[static_cast<size_t>(removal.instance)].session) {
                messages_.wait_done(messages_.post({MessageQueue::Kind::Remove, removal.instance, block}));
            }
        }
        if (options_.reload_at_block == block) {
            const uint64_t ticket = messages_.post({MessageQueue::Kind::Reload, -1, block, first_sample});
            if (!options_.reload_concurrent) {
                messages_.wait_done(ticket);
            }
        }
        report_.stream.ttl_events_in += events.ttl.size();
        report_.stream.spikes_in += events.spikes.size();
        oe_pyproc_block view{buffer.channel_pointers(), options_.channels, samples, buffer.row_stride(), first_sample};
        for (size_t i = 0; i < live_.size(); ++i) {
            LiveInstance& live = live_[i];
            if (!live.session) {
                continue;
            }
            // As PythonProcessor::process: the audio thread only tries the session; a reload holding it
            // lets the block pass through unchanged.
            adapter::ScriptSession::Block session_block(*live.session);
            if (!session_block.active()) {
                continue;
            }
            // TTL events and spikes merged in sample order (a TTL event first at equal sample numbers).
            size_t next_ttl = 0;
            size_t next_spike = 0;
            while (next_ttl < events.ttl.size() || next_spike < events.spikes.size()) {
                const bool ttl_next = next_spike == events.spikes.size() ||
                                      (next_ttl < events.ttl.size() &&
                                       events.ttl[next_ttl].sample_number <= events.spikes[next_spike]->sample_number);
                if (ttl_next) {
                    deliver(session_block, i, events.ttl[next_ttl++], block, first_sample);
                } else {
                    deliver(session_block, i, *events.spikes[next_spike++], block, first_sample);
                }
            }
            oe_pyproc_block_result result{};
            const int status = session_block.process(view, options_.sample_rate, &result);
            InstanceReport& entry = *live.report;
            if (failed(status)) {
                add_error(static_cast<int>(i), block, first_sample, session_block.last_error());
            }
            entry.count_path(result.data_path);
            if (result.data_path != OE_PYPROC_PATH_NONE) {
                entry.overhead_ns.push_back(result.overhead_ns);
                entry.script_ns.push_back(result.script_ns);
                entry.gil_wait_ns.push_back(result.gil_wait_ns);
                const double budget_ns = samples / options_.sample_rate * 1e9;
                const double percent = 100.0 * static_cast<double>(result.total_ns) / budget_ns;
                entry.budget_percent.push_back(percent);
                if (entry.block_budget_percent.size() < entry.block_budget_percent.capacity()) {
                    entry.block_budget_percent.push_back(static_cast<float>(percent));
                }
            }
            // Output events placed in this block as the adapter places them (clamped, sorted, lines checked).
            int32_t count = 0;
            while ((count = session_block.drain(drained_, kDrainBatch)) > 0) {
                int dropped = 0;
                const int placed =
                    adapter::place_output_events(drained_, count, first_sample, samples, placed_, dropped);
                entry.events_dropped_placement += static_cast<uint64_t>(dropped);
                for (int k = 0; k < placed; ++k) {
                    ++entry.events_emitted_count;
                    if (static_cast<int64_t>(entry.events.size()) < options_.max_events) {
                        entry.events.push_back(
                            EmittedEvent{placed_[k].sample_number, placed_[k].line, placed_[k].state, block});
                    }
                }
            }
        }
    }

    static constexpr int kDrainBatch = 256;
    const Options& options_;
    const oe_pyproc_bridge_api& api_;
    Report& report_;
    std::vector<LiveInstance> live_;
    std::mutex errors_mutex_;
    std::atomic<int64_t> current_block_{-1};
    std::atomic<int64_t> samples_done_{0};
    std::string internal_error_;  // what stopped the audio thread (set by it, read after the join)
    MessageQueue messages_;
    std::atomic<std::thread::id> audio_thread_id_{};
    oe_pyproc_event_out drained_[kDrainBatch];
    adapter::OutputTtl placed_[kDrainBatch];
};

int finish(const Options& options, Report& report, int exit_code, int report_fd) {
    report.exit_code = exit_code;
    report.ok = exit_code == kExitOk;
    if (options.json || !options.json_file.empty()) {
        const std::string json = report.to_json();
        if (options.json) {
            const std::string line = json + "\n";
            if (write(report_fd, line.data(), line.size()) < 0) {
                return kExitIo;
            }
        }
        if (!options.json_file.empty()) {
            std::string problem;
            if (!write_file_atomically(options.json_file, json + "\n", problem)) {
                std::fprintf(stderr, "oe-pyproc-host: error: %s\n", problem.c_str());
                return kExitIo;
            }
        }
    }
    if (!options.json) {
        std::fputs(report.to_text().c_str(), stdout);
    }
    return exit_code;
}

// What the bridge's abandon callback needs to end the run with a report.
struct AbandonContext {
    const Options* options = nullptr;
    Report* report = nullptr;
    HostRun* run = nullptr;
    LogSink* log = nullptr;
    int report_fd = STDOUT_FILENO;
};

void on_abandoned(void* user, uint64_t instance_id, const char* method, double seconds, double limit_seconds) {
    auto* context = static_cast<AbandonContext*>(user);
    {
        std::lock_guard<std::mutex> lock(context->log->mutex);  // no bridge message lands in the report now
        context->log->report = nullptr;
    }
    context->run->record_abandoned(instance_id, method, seconds, limit_seconds);
    std::fprintf(stderr, "oe-pyproc-host: error: %s\n", context->report->fatal->message.c_str());
    const int code = finish(*context->options, *context->report, kExitScriptRaised, context->report_fd);
    std::fflush(stdout);
    std::fflush(stderr);
    _exit(code);  // the stuck call still runs on its thread: no destructors, no joins
}

// Linux: the host must never outlive the `oe-pyproc run` that started it (a script stuck in a loop would
// spin on): it gets SIGKILL when its parent dies. The parent may have died before the request was made:
// --parent-pid says who it should be.
bool die_with_parent(const Options& options) {
#if defined(__linux__)
    if (options.parent_pid > 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != static_cast<pid_t>(options.parent_pid)) {
            return false;
        }
    }
#else
    (void)options;  // Windows/macOS: not done (see plugin/host/README.md)
#endif
    return true;
}

int host_main(int argc, char** argv);

}  // namespace

// No exception leaves the host: out of memory (std::bad_alloc) is an error message and exit code 6.
int main(int argc, char** argv) {
    try {
        return host_main(argc, argv);
    } catch (const std::bad_alloc&) {
        std::fputs(
            "oe-pyproc-host: error: out of memory (a memory limit, or a stream too large for this machine: "
            "fewer channels or a smaller block)\n",
            stderr);
    } catch (const std::exception& error) {
        std::fprintf(stderr, "oe-pyproc-host: error: internal error: %s\n", error.what());
    } catch (...) {
        std::fputs("oe-pyproc-host: error: internal error (unknown exception)\n", stderr);
    }
    return kExitInternal;
}

namespace {

int host_main(int argc, char** argv) {
#if defined(_WIN32)
    // argv is in the ANSI code page: take the UTF-16 command line and make it UTF-8, as the loader's paths are.
    std::vector<std::string> utf8_arguments;
    std::vector<char*> utf8_argv;
    int wide_count = 0;
    if (wchar_t** wide = CommandLineToArgvW(GetCommandLineW(), &wide_count)) {
        for (int i = 0; i < wide_count; ++i) {
            utf8_arguments.push_back(fs::path(wide[i]).u8string());
        }
        LocalFree(wide);
        for (std::string& argument : utf8_arguments) {
            utf8_argv.push_back(argument.data());
        }
        utf8_argv.push_back(nullptr);
        argc = wide_count;
        argv = utf8_argv.data();
    }
#endif
    Options options;
    std::string problem;
    const ParseResult parsed = parse_options(argc, argv, options, problem);
    if (parsed == ParseResult::Help) {
        std::fputs(usage_text().c_str(), stdout);
        return kExitOk;
    }
    if (parsed == ParseResult::Error) {
        std::fprintf(stderr, "oe-pyproc-host: error: %s\nRun `oe-pyproc-host --help` for the flags.\n",
                     problem.c_str());
        return kExitUsage;
    }
    if (!die_with_parent(options)) {
        std::fputs("oe-pyproc-host: error: the process that started the host has already ended\n", stderr);
        return kExitUsage;
    }

    // With --json, stdout carries only the report: everything else written to fd 1 (script prints,
    // Python warnings) goes to stderr.
    int report_fd = STDOUT_FILENO;
    if (options.json) {
        std::fflush(stdout);
        report_fd = dup(STDOUT_FILENO);
        dup2(STDERR_FILENO, STDOUT_FILENO);
    }

    Report report;
    report.stream.channels = options.channels;
    report.stream.sample_rate = options.sample_rate;
    report.stream.callback_size = options.callback_size;
    report.stream.contiguous = options.callback_size == options.block_size && options.block_jitter == 0;
    report.stream.source = options.input.empty() ? "synthetic" : "raw";
    report.stream.first_sample_number = options.first_sample_number;

    // Home: the adapter's own candidates and decision (DESIGN §4 order), the host's prefix last.
    std::vector<HomeCandidate> candidates{{options.python_home, HomeOrigin::Chain}};
    if (!options.no_default_home) {
        const std::string root = options.gui_root.empty() ? default_gui_root() : options.gui_root;
        std::vector<std::string> file_problems;
        candidates = adapter::gather_home_candidates(options.python_home, root, options.api, file_problems);
        for (const auto& problem_text : file_problems) {
            report.warnings.push_back(WarningEntry{-1, -1, problem_text});
        }
        const fs::path own_prefix = fs::path(executable_dir()).parent_path();
        std::error_code error;
        const bool has_python = fs::exists(own_prefix / "bin" / "python3", error);
        candidates.push_back({has_python ? own_prefix.string() : "", HomeOrigin::HostPrefix});
    }
    ValidationOptions validation_options;
    validation_options.bridge_dir = find_bridge_dir(options);
    validation_options.import_timeout =
        std::chrono::milliseconds(static_cast<int64_t>(options.import_timeout_s * 1000));
    const adapter::HomeDecision decision =
        adapter::decide_home(Runtime::instance().home(), candidates, /*headless=*/true,
                             [&](const std::string& path) { return validate_home(path, validation_options); });
    for (const auto& step : decision.steps) {
        report.home.candidates.push_back(
            CandidateEntry{step.candidate.path, to_string(step.candidate.origin), step.accepted, step.reason});
    }
    if (decision.action != adapter::HomeAction::Start) {
        std::string message = "no valid Python Home:";
        for (const auto& step : decision.steps) {
            message += "\n  " + std::string(to_string(step.candidate.origin)) + ": " +
                       (step.candidate.path.empty() ? "(none)" : step.candidate.path) + " — " + step.reason;
        }
        std::fprintf(stderr, "oe-pyproc-host: error: %s\n", message.c_str());
        report.fatal = Fatal{"home", message};
        return finish(options, report, kExitHome, report_fd);
    }
    const Validation& home = *decision.validation;
    report.home.chosen = home.info.path;
    report.home.origin = to_string(decision.origin);
    report.home.venv = home.info.is_venv;
    report.home.numpy_version = home.numpy_version;
    if (options.check_home) {
        report.home.python_version = home.info.version;
        return finish(options, report, kExitOk, report_fd);
    }

    std::string error;
    const oe_pyproc_bridge_api* api = Runtime::instance().start(home, validation_options.bridge_dir, error);
    if (api == nullptr) {
        std::fprintf(stderr, "oe-pyproc-host: error: %s\n", error.c_str());
        report.fatal = Fatal{"python", error};
        return finish(options, report, kExitHome, report_fd);
    }
    report.home.python_version = api->python_version();
    report.home.bridge = Runtime::instance().bridge_path();

    for (int index = 0; index < options.instances; ++index) {
        InstanceReport entry;
        entry.index = index;
        std::error_code fs_error;
        entry.script = fs::absolute(options.scripts[static_cast<size_t>(index) % options.scripts.size()], fs_error)
                           .lexically_normal()
                           .string();
        report.instances.push_back(entry);
    }

    std::unique_ptr<BlockSource> source = make_source(options, problem);
    if (!source) {
        std::fprintf(stderr, "oe-pyproc-host: error: %s\n", problem.c_str());
        report.fatal = Fatal{"io", problem};
        return finish(options, report, kExitIo, report_fd);
    }
    std::unique_ptr<OutputWriter> output;
    if (!options.output.empty()) {
        output = std::make_unique<OutputWriter>(options.channels, options.chunk);
        if (!output->open(options.output)) {
            std::fprintf(stderr, "oe-pyproc-host: error: %s\n", output->error().c_str());
            report.fatal = Fatal{"io", output->error()};
            return finish(options, report, kExitIo, report_fd);
        }
    }

    HostRun run(options, *api, report);
    LogSink sink;
    sink.report = &report;
    sink.current_block = &run.current_block();
    api->set_log_callback(on_bridge_log, &sink);
    AbandonContext abandon{&options, &report, &run, &sink, report_fd};
    api->set_abandon_callback(on_abandoned, &abandon);

    int status = run.load_instances();
    if (status != kExitOk) {
        std::fprintf(stderr, "oe-pyproc-host: error: %s\n", report.fatal->message.c_str());
        run.destroy_all();
        api->set_abandon_callback(nullptr, nullptr);
        api->set_log_callback(nullptr, nullptr);
        return finish(options, report, status, report_fd);
    }
    run.start();
    try {
        status = run.run(*source, output.get());
    } catch (const std::bad_alloc&) {  // the host's own buffers (a stream too large for the memory limit)
        report.fatal = Fatal{"internal", "out of memory for the stream's buffers (" + std::to_string(options.channels) +
                                             " channels x " + std::to_string(options.callback_size) +
                                             " samples): fewer channels or a smaller block"};
        status = kExitInternal;
    }
    run.stop();
    run.destroy_all();
    api->set_abandon_callback(nullptr, nullptr);
    api->set_log_callback(nullptr, nullptr);
    const double stream_seconds = static_cast<double>(report.stream.samples) / options.sample_rate;
    if (report.run.wall_time_s > 0) {
        report.run.realtime_factor = stream_seconds / report.run.wall_time_s;
    }
    if (report.run.audio_cpu_time_s > 0) {
        report.run.audio_cpu_realtime_factor = stream_seconds / report.run.audio_cpu_time_s;
    }
    if (report.run.cpu_time_s > 0) {
        report.run.cpu_realtime_factor = stream_seconds / report.run.cpu_time_s;
    }
    report.stream.duration_s = static_cast<double>(report.stream.samples) / options.sample_rate;
    if (status == kExitOk && report.error_total > 0) {
        status = kExitScriptRaised;
    }
    if (status == kExitIo || status == kExitInternal) {
        std::fprintf(stderr, "oe-pyproc-host: error: %s\n", report.fatal ? report.fatal->message.c_str() : "I/O error");
    }
    return finish(options, report, status, report_fd);
}

}  // namespace
