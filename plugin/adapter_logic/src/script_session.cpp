#include "oe_pyproc_script_session.h"

#include <chrono>
#include <utility>

namespace oe_pyproc::adapter {

PreparedScript::~PreparedScript() {
    reset();
}

PreparedScript::PreparedScript(PreparedScript&& other) noexcept {
    *this = std::move(other);
}

PreparedScript& PreparedScript::operator=(PreparedScript&& other) noexcept {
    if (this != &other) {
        reset();
        api_ = other.api_;
        instance_ = std::exchange(other.instance_, nullptr);
        status_ = other.status_;
        script_path_ = std::move(other.script_path_);
        seconds_ = other.seconds_;
    }
    return *this;
}

void PreparedScript::reset() {
    if (api_ != nullptr && instance_ != nullptr) {
        api_->destroy(instance_);
    }
    instance_ = nullptr;
}

PreparedScript import_script(const oe_pyproc_bridge_api* api, uint64_t instance_id, const std::string& script_path,
                             int num_channels, double sample_rate) {
    PreparedScript prepared;
    prepared.api_ = api;
    prepared.script_path_ = script_path;
    if (api == nullptr || (prepared.instance_ = api->create(instance_id)) == nullptr) {
        return prepared;  // OE_PYPROC_NOT_INITIALIZED: Python is not running
    }
    const auto before = std::chrono::steady_clock::now();
    prepared.status_ = api->load_script(prepared.instance_, script_path.c_str(), num_channels, sample_rate);
    prepared.seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - before).count();
    return prepared;
}

ScriptSession::ScriptSession(uint64_t instance_id) : instance_id_(instance_id) {}

ScriptSession::~ScriptSession() {
    std::lock_guard<std::mutex> lock(mutex_);
    destroy_instance();
}

uint64_t ScriptSession::destroy_instance() {
    if (api_ == nullptr || instance_ == nullptr) {
        return 0;
    }
    uint64_t undelivered = 0;
    oe_pyproc_event_out events[256];
    for (int32_t count = 0; (count = api_->drain_events(instance_, events, 256)) > 0;) {
        undelivered += static_cast<uint64_t>(count);
    }
    api_->destroy(instance_);
    instance_ = nullptr;
    return undelivered;
}

void ScriptSession::configure_instance() {
    api_->set_policy(instance_, static_cast<int32_t>(policy_));
    api_->set_zero_copy(instance_, zero_copy_ ? 1 : 0);
    api_->set_watchdog(instance_, call_limit_s_, load_limit_s_);
    if (prepared_samples_ > 0) {
        api_->prepare(instance_, prepared_samples_);
    }
}

void ScriptSession::attach(const oe_pyproc_bridge_api* api) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (api == nullptr || instance_ != nullptr) {
        return;
    }
    api_ = api;
    instance_ = api_->create(instance_id_);
    if (instance_ != nullptr) {
        configure_instance();
    }
}

bool ScriptSession::attached() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return instance_ != nullptr;
}

int ScriptSession::after_call(int status) {
    if (status == OE_PYPROC_OK) {
        loaded_ = true;
        last_error_.clear();
    } else {
        const char* error = api_->get_last_error(instance_);
        last_error_ =
            (error != nullptr && *error != '\0') ? error : "the bridge returned status " + std::to_string(status);
        if (status == OE_PYPROC_LOAD_FAILED) {
            loaded_ = false;
        }
    }
    return status;
}

int ScriptSession::load(const std::string& script_path, int num_channels, double sample_rate) {
    std::lock_guard<std::mutex> lock(mutex_);
    script_path_ = script_path;
    if (instance_ == nullptr) {
        last_error_ = "Python is not running (no valid Home)";
        loaded_ = false;
        return OE_PYPROC_NOT_INITIALIZED;
    }
    return after_call(api_->load_script(instance_, script_path.c_str(), num_channels, sample_rate));
}

int ScriptSession::adopt(PreparedScript prepared) {
    std::lock_guard<std::mutex> lock(mutex_);
    script_path_ = prepared.script_path_;
    loaded_ = false;
    if (prepared.instance_ == nullptr) {
        last_error_ = "Python is not running (no valid Home)";
        return prepared.status_;
    }
    destroy_instance();  // the audio thread cannot hold it: we hold the session
    api_ = prepared.api_;
    instance_ = std::exchange(prepared.instance_, nullptr);
    configure_instance();
    const int status = after_call(prepared.status_);
    if (loaded_ && acquiring_ && api_->start_acquisition(instance_) == OE_PYPROC_SCRIPT_ERROR) {
        after_call(OE_PYPROC_SCRIPT_ERROR);
    }
    return status;
}

int ScriptSession::reload() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (instance_ == nullptr) {
        return OE_PYPROC_NOT_INITIALIZED;
    }
    if (script_path_.empty()) {
        last_error_ = "no script to reload";
        return OE_PYPROC_INVALID_ARGUMENT;
    }
    const int status = after_call(api_->reload(instance_));
    if (status == OE_PYPROC_OK && acquiring_ && api_->start_acquisition(instance_) == OE_PYPROC_SCRIPT_ERROR) {
        after_call(OE_PYPROC_SCRIPT_ERROR);
    }
    return status;
}

int ScriptSession::reinit(int num_channels, double sample_rate) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (instance_ == nullptr || !loaded_) {
        return OE_PYPROC_NOT_INITIALIZED;
    }
    return after_call(api_->reinit(instance_, num_channels, sample_rate));
}

uint64_t ScriptSession::unload() {
    std::lock_guard<std::mutex> lock(mutex_);
    script_path_.clear();
    last_error_.clear();
    loaded_ = false;
    if (instance_ == nullptr) {
        return 0;
    }
    const uint64_t undelivered = destroy_instance();
    instance_ = api_->create(instance_id_);
    if (instance_ != nullptr) {
        configure_instance();
    }
    return undelivered;
}

uint64_t ScriptSession::close() {
    std::lock_guard<std::mutex> lock(mutex_);
    loaded_ = false;
    return destroy_instance();
}

int ScriptSession::prepare(int max_samples) {
    std::lock_guard<std::mutex> lock(mutex_);
    prepared_samples_ = max_samples;
    if (instance_ == nullptr) {
        return OE_PYPROC_NOT_INITIALIZED;
    }
    return api_->prepare(instance_, max_samples);
}

void ScriptSession::set_policy(ErrorPolicy policy) {
    std::lock_guard<std::mutex> lock(mutex_);
    policy_ = policy;
    if (instance_ != nullptr) {
        api_->set_policy(instance_, static_cast<int32_t>(policy));
    }
}

void ScriptSession::set_zero_copy(bool enabled) {
    std::lock_guard<std::mutex> lock(mutex_);
    zero_copy_ = enabled;
    if (instance_ != nullptr) {
        api_->set_zero_copy(instance_, enabled ? 1 : 0);
    }
}

void ScriptSession::set_watchdog(double call_limit_s, double load_limit_s) {
    std::lock_guard<std::mutex> lock(mutex_);
    call_limit_s_ = call_limit_s;
    load_limit_s_ = load_limit_s;
    if (instance_ != nullptr) {
        api_->set_watchdog(instance_, call_limit_s, load_limit_s);
    }
}

int ScriptSession::start_acquisition() {
    std::lock_guard<std::mutex> lock(mutex_);
    timer_.reset();
    acquiring_ = true;
    if (instance_ == nullptr || !loaded_) {
        return OE_PYPROC_NOT_INITIALIZED;
    }
    int status = api_->start_acquisition(instance_);
    if (status == OE_PYPROC_SCRIPT_ERROR) {
        after_call(status);
    }
    return status;
}

int ScriptSession::stop_acquisition() {
    std::lock_guard<std::mutex> lock(mutex_);
    acquiring_ = false;
    if (instance_ == nullptr || !loaded_) {
        return OE_PYPROC_NOT_INITIALIZED;
    }
    int status = api_->stop_acquisition(instance_);
    if (status == OE_PYPROC_SCRIPT_ERROR) {
        after_call(status);
    }
    return status;
}

int ScriptSession::start_recording(const std::string& recording_dir) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (instance_ == nullptr || !loaded_) {
        return OE_PYPROC_NOT_INITIALIZED;
    }
    int status = api_->start_recording(instance_, recording_dir.c_str());
    if (status == OE_PYPROC_SCRIPT_ERROR) {
        after_call(status);
    }
    return status;
}

int ScriptSession::stop_recording() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (instance_ == nullptr || !loaded_) {
        return OE_PYPROC_NOT_INITIALIZED;
    }
    int status = api_->stop_recording(instance_);
    if (status == OE_PYPROC_SCRIPT_ERROR) {
        after_call(status);
    }
    return status;
}

SessionState ScriptSession::state() const {
    std::lock_guard<std::mutex> lock(mutex_);
    SessionState state;
    state.has_instance = instance_ != nullptr;
    state.loaded = loaded_;
    state.script_path = script_path_;
    state.last_error = last_error_;
    if (instance_ != nullptr) {
        oe_pyproc_instance_state bridge_state{};
        api_->get_state(instance_, &bridge_state);
        state.faulted = bridge_state.faulted != 0;
        if (bridge_state.error_count > 0) {
            // Errors raised on the audio thread are only known to the bridge; fetch the text here.
            const char* error = api_->get_last_error(instance_);
            if (error != nullptr && *error != '\0') {
                state.last_error = error;
            }
        }
    }
    return state;
}

oe_pyproc_instance_state ScriptSession::bridge_state() const {
    std::lock_guard<std::mutex> lock(mutex_);
    oe_pyproc_instance_state state{};
    if (instance_ != nullptr) {
        api_->get_state(instance_, &state);
    }
    return state;
}

oe_pyproc_instance_state ScriptSession::bridge_state_now() const {
    oe_pyproc_instance_state state{};
    if (instance_ != nullptr) {
        api_->get_state(instance_, &state);
    }
    return state;
}

void ScriptSession::set_external_error(const std::string& message) {
    std::lock_guard<std::mutex> lock(mutex_);
    last_error_ = message;
}

// ---------------------------------------------------------------------------------------------------------
// Audio thread
// ---------------------------------------------------------------------------------------------------------

ScriptSession::Block::Block(ScriptSession& session) : session_(session), lock_(session.mutex_, std::try_to_lock) {
    active_ = lock_.owns_lock() && session_.instance_ != nullptr && session_.loaded_;
    if (!lock_.owns_lock()) {
        session_.blocks_skipped_busy_.fetch_add(1, std::memory_order_relaxed);
    }
}

ScriptSession::Block::~Block() = default;

int ScriptSession::Block::ttl_event(const oe_pyproc_ttl_event& event) {
    return active_ ? session_.api_->ttl_event(session_.instance_, &event) : OE_PYPROC_BYPASSED;
}

int ScriptSession::Block::spike(const oe_pyproc_spike& spike) {
    return active_ ? session_.api_->spike(session_.instance_, &spike) : OE_PYPROC_BYPASSED;
}

int ScriptSession::Block::process(const oe_pyproc_block& block, double sample_rate, oe_pyproc_block_result* result) {
    oe_pyproc_block_result local{};
    oe_pyproc_block_result& filled = result != nullptr ? *result : local;
    filled = oe_pyproc_block_result{};
    if (!active_) {
        return OE_PYPROC_BYPASSED;
    }
    int status = session_.api_->process(session_.instance_, &block, &filled);
    if (filled.data_path != OE_PYPROC_PATH_NONE) {
        session_.timer_.record(filled.script_ns, block.num_samples, sample_rate);
    }
    return status;
}

const char* ScriptSession::Block::last_error() const {
    if (!lock_.owns_lock() || session_.instance_ == nullptr) {
        return "";
    }
    const char* error = session_.api_->get_last_error(session_.instance_);
    return error != nullptr ? error : "";
}

int ScriptSession::Block::drain(oe_pyproc_event_out* out, int capacity) {
    if (!lock_.owns_lock() || session_.instance_ == nullptr) {
        return 0;
    }
    return session_.api_->drain_events(session_.instance_, out, capacity);
}

}  // namespace oe_pyproc::adapter
