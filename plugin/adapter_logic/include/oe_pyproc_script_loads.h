// oe_pyproc_script_loads.h — script loading off the GUI's message thread, by BackgroundChecks' rules.
//
// A script's own imports and __init__ can take seconds (a cold conda env, a large package); on the message
// thread that would freeze the whole GUI. The import runs on a worker thread into a bridge instance of its own
// (import_script): the session is not touched meanwhile, so the message thread never waits for it, and the
// audio thread keeps trying the session as usual: blocks pass through while no script is loaded, and a script
// already loaded keeps running until its replacement is ready. The newest load is then adopted on the owner's
// thread; an older one (superseded, cancelled, or its owner gone) is dropped and its instance destroyed on the
// worker, without anyone waiting for it.
#pragma once

#include "oe_pyproc_background_check.h"
#include "oe_pyproc_script_session.h"

#include <functional>
#include <string>

namespace oe_pyproc::adapter {

class ScriptLoads {
public:
    // Runs on the owner's thread after the session adopted the load: the bridge status and the import's time.
    using Done = std::function<void(int status, double seconds)>;

    explicit ScriptLoads(BackgroundChecks::Post post);

    // Imports `script_path` for `session` on a worker thread and returns at once; supersedes a running load.
    // `session` must outlive this object (the adoption only ever runs while this object exists, on the owner's
    // thread). `api` is the running bridge.
    void start(ScriptSession& session, const oe_pyproc_bridge_api* api, const std::string& script_path,
               int num_channels, double sample_rate, Done done);
    // A running load is no longer wanted (the script was cleared, a Home check supersedes it).
    void cancel();
    bool loading() const;
    // The script a running load imports, "" when none (owner's thread).
    const std::string& loading_path() const { return loading_path_; }

private:
    BackgroundChecks checks_;
    std::string loading_path_;
};

}  // namespace oe_pyproc::adapter
