#include "oe_pyproc_script_loads.h"

#include <memory>
#include <utility>

namespace oe_pyproc::adapter {

ScriptLoads::ScriptLoads(BackgroundChecks::Post post) : checks_(std::move(post)) {}

void ScriptLoads::start(ScriptSession& session, const oe_pyproc_bridge_api* api, const std::string& script_path,
                        int num_channels, double sample_rate, Done done) {
    loading_path_ = script_path;
    const uint64_t instance_id = session.instance_id();
    // The job captures only values: it may outlive this object and the session. The apply runs on the owner's
    // thread and only while this object exists (BackgroundChecks), so `this` and `session` are alive then.
    checks_.start([this, &session, api, instance_id, script_path, num_channels, sample_rate,
                   done = std::move(done)]() -> BackgroundChecks::Apply {
        // Shared so the apply stays copyable; dropped unused, it destroys its bridge instance.
        auto prepared =
            std::make_shared<PreparedScript>(import_script(api, instance_id, script_path, num_channels, sample_rate));
        return [this, &session, prepared, done]() {
            loading_path_.clear();
            const double seconds = prepared->seconds();
            const int status = session.adopt(std::move(*prepared));
            if (done) {
                done(status, seconds);
            }
        };
    });
}

void ScriptLoads::cancel() {
    checks_.cancel();
    loading_path_.clear();
}

bool ScriptLoads::loading() const {
    return checks_.checking();
}

}  // namespace oe_pyproc::adapter
