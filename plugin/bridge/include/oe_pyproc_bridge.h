/*
 * oe_pyproc_bridge.h — the C ABI between the Python-free side (loader, Open Ephys adapter, headless host)
 * and a bridge `oe_pyproc_bridge_cp3XY` (one shared module per CPython minor version).
 *
 * A bridge exports exactly one symbol, `oe_pyproc_bridge_get_api`, which returns a table of function
 * pointers. Callers must compare `abi_version` and `struct_size` before using the table. Everything in the
 * table is plain C: no C++ types, no Python types cross this boundary.
 *
 * Threading contract
 * - `initialize` is called once per process, from any thread (normally the GUI's message thread). It starts
 *   CPython with an isolated PyConfig and releases the GIL before returning. Python is never finalised.
 * - Every other entry may be called from any thread; each takes the GIL itself (RAII inside the bridge).
 *   A thread that calls in gets one persistent PyThreadState, created on its first call and reused for all
 *   instances and all later calls (the audio thread never creates thread states per block).
 *   `reset_thread_states` marks every persistent thread state stale (call it when the audio device
 *   restarts, from any thread, at any time): each thread replaces its own on its next call, deleting the old
 *   one on that thread. A thread that ends deletes its own thread state (thread_local destructor).
 * - Calls on one instance must not overlap in time, except `drain_events` (lock-protected) and
 *   `get_state`. The adapter/host call process/events on the audio thread and load/reload/destroy on the
 *   message thread; the caller serialises these two for the same instance (e.g. a suspend-processing lock).
 *
 * Failure contract
 * - No C++ exception crosses this ABI: every entry catches them (std::bad_alloc under a memory limit) and
 *   returns OE_PYPROC_INTERNAL_ERROR (NULL, 0 or "" where it returns something else), logs the reason, and
 *   faults the instance it was working on.
 * - A script cannot end the process from Python: in the embedded interpreter os._exit, os.abort, the exec*
 *   family, os.kill/os.killpg/signal.pthread_kill/signal.raise_signal aimed at this process raise
 *   oe_pyprocessor.ProcessExitRefused instead (in a forked child they act as usual), and SystemExit is an
 *   error like any other: the instance is faulted, the process goes on. Crashes in C code (a segfault)
 *   cannot be caught.
 *
 * Memory contract
 * - `process` performs no heap allocation on the C++ side in steady state: the block view (ndarray) and the
 *   staging buffer are allocated by `prepare` (or on the first block larger than anything seen before).
 *   Copy-on-keep: a block the script kept something of is handed over to what kept it (one allocation of
 *   the block); the instance then takes the staging path (never a view of the caller's rows) until its
 *   script is reloaded, and zero-copy paths wait for 64 blocks after each load.
 * - Strings returned (last error, python version) stay valid until the next call on the same instance
 *   (or for the process lifetime for global strings).
 */
#ifndef OE_PYPROC_BRIDGE_H
#define OE_PYPROC_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change of a struct or function signature below. */
#define OE_PYPROC_BRIDGE_ABI_VERSION 1u

#if defined(_WIN32)
#define OE_PYPROC_BRIDGE_EXPORT __declspec(dllexport)
#else
#define OE_PYPROC_BRIDGE_EXPORT __attribute__((visibility("default")))
#endif

/* Return codes of the functions that return int. */
enum oe_pyproc_status {
    OE_PYPROC_OK = 0,
    OE_PYPROC_BYPASSED = 1,     /* process: instance faulted or has no script; block untouched */
    OE_PYPROC_SCRIPT_ERROR = 2, /* a script method raised; see get_last_error (traceback included) */
    OE_PYPROC_INVALID_ARGUMENT = -1,
    OE_PYPROC_NOT_INITIALIZED = -2,
    OE_PYPROC_ALREADY_INITIALIZED = -3, /* initialize with a different Home: restart the process */
    OE_PYPROC_PYTHON_START_FAILED = -4,
    OE_PYPROC_LOAD_FAILED = -5,   /* script could not be imported/instantiated; see get_last_error */
    OE_PYPROC_INTERNAL_ERROR = -6 /* a C++ exception inside the bridge (e.g. out of memory): caught at the
                                     entry, logged; an instance it hit is faulted */
};

/* Error policy of an instance (set_policy). */
enum oe_pyproc_policy {
    OE_PYPROC_POLICY_BYPASS = 0,  /* default: first exception faults the instance; blocks pass through */
    OE_PYPROC_POLICY_CONTINUE = 1 /* keep calling the script; errors logged at most once per second */
};

/* Which data path a block took (oe_pyproc_block_result.data_path). */
enum oe_pyproc_data_path {
    OE_PYPROC_PATH_NONE = 0,    /* bypassed: script not called */
    OE_PYPROC_PATH_VIEW = 1,    /* opt-in zero-copy view: rows contiguous (row_stride == num_samples) */
    OE_PYPROC_PATH_STAGING = 2, /* copied into a preallocated contiguous buffer and back on success */
    OE_PYPROC_PATH_STRIDED = 3  /* opt-in zero-copy strided view (row_stride > num_samples) */
};

/* Flags in oe_pyproc_block_result.flags. */
enum oe_pyproc_block_flags {
    OE_PYPROC_BLOCK_KEPT_REFERENCE = 1u << 0, /* the script kept (a view of) the block array: handed over */
    OE_PYPROC_BLOCK_EVENTS_DROPPED = 1u << 1  /* the output event queue overflowed since the last drain */
};

/* Log levels of the log callback. */
enum oe_pyproc_log_level { OE_PYPROC_LOG_INFO = 0, OE_PYPROC_LOG_WARNING = 1, OE_PYPROC_LOG_ERROR = 2 };

/* instance_id: the id given at create (0 for messages about the interpreter as a whole). Called from the
 * thread where the event happened (possibly the audio thread); must not call back into the bridge. */
typedef void (*oe_pyproc_log_fn)(void* user, int level, uint64_t instance_id, const char* message);

/* How to start the interpreter. The loader fills it from a validated Home. All strings UTF-8. */
typedef struct oe_pyproc_python_config {
    uint32_t struct_size;           /* sizeof(oe_pyproc_python_config) */
    const char* home;               /* PyConfig.home: the base installation prefix (for a venv: its base) */
    const char* executable;         /* PyConfig.program_name + executable: the Home's interpreter; for a venv the
                                       venv's bin/python, so site.py applies pyvenv.cfg (venv site-packages only) */
    const char* const* extra_paths; /* appended to sys.path after start-up; may be NULL */
    size_t num_extra_paths;
} oe_pyproc_python_config;

/* One block of the selected stream, as the GUI hands it over. */
typedef struct oe_pyproc_block {
    float* const* channels; /* num_channels write pointers (getWritePointer of each channel) */
    int32_t num_channels;
    int32_t num_samples;         /* this block's length (jitters, e.g. 696..698 at 30 kHz) */
    int64_t row_stride;          /* > 0 iff channels[i] == channels[0] + i * row_stride for all i (JUCE: the
                                    callback size); 0 when rows are not uniformly spaced (then staging) */
    int64_t first_sample_number; /* sample number of the block's first sample (for events and reports) */
} oe_pyproc_block;

/* Filled by process (all times in nanoseconds, steady clock). */
typedef struct oe_pyproc_block_result {
    int64_t total_ns;    /* whole process() call */
    int64_t script_ns;   /* inside the script's process() */
    int64_t overhead_ns; /* total_ns - script_ns - gil_wait_ns: the bridge's own cost */
    int64_t gil_wait_ns; /* waiting to take the GIL */
    uint32_t data_path;  /* oe_pyproc_data_path */
    uint32_t flags;      /* oe_pyproc_block_flags */
} oe_pyproc_block_result;

/* TTL event on the selected stream, delivered before the process() of its block. */
typedef struct oe_pyproc_ttl_event {
    int32_t source_node;
    const char* channel_name;
    int64_t sample_number;
    int32_t line;
    int32_t state; /* 0 or 1 */
} oe_pyproc_ttl_event;

/* Spike on the selected stream. data: num_channels x num_samples float32, channel-major, contiguous;
 * the script receives a read-only copy. */
typedef struct oe_pyproc_spike {
    int32_t source_node;
    const char* electrode_name;
    int32_t num_channels;
    int32_t num_samples;
    int64_t sample_number;
    int32_t sorted_id;
    const float* data;
} oe_pyproc_spike;

/* An event the script emitted with processor.add_python_event(line, state, offset). offset is relative to
 * the first sample of the block during which it was drained; events added outside process() (from
 * handle_ttl_event, start_acquisition or a script thread) are delivered with the next drain, their
 * offset clamped to that block's last sample. */
typedef struct oe_pyproc_event_out {
    int32_t line;   /* 0..255 */
    int32_t state;  /* 0 or 1 */
    int32_t offset; /* 0 <= offset < num_samples of the block */
} oe_pyproc_event_out;

/* Snapshot of an instance (safe to call from any thread at any time). */
typedef struct oe_pyproc_instance_state {
    int32_t has_script;
    int32_t faulted;
    uint64_t blocks_processed; /* process calls that reached the script */
    uint64_t blocks_bypassed;
    uint64_t error_count;     /* exceptions caught, all methods */
    int64_t last_error_block; /* process-call index (0-based) of the last error, -1 if none/not in process */
    uint64_t events_dropped;  /* add_python_event calls lost to a full queue */
} oe_pyproc_instance_state;

/* The watchdog. A script method running longer than its limit gets an asynchronous exception
 * (oe_pyprocessor.WatchdogTimeout) from the bridge's watchdog thread, and the instance is faulted when the
 * call returns: get_last_error ends with "process() ran for X s, over the watchdog limit of Y s".
 * Code that does not return to the interpreter (time.sleep, C code holding the GIL) cannot be interrupted:
 * when a call is still running max(limit, 1 s) after its limit, the abandon callback is called once for it,
 * from the watchdog thread (no GIL held; of the bridge it may call get_state only), and the bridge logs it.
 * The caller decides: the host ends its run with a report; the GUI adapter only logs it (its audio thread
 * waits for the call, the instance is bypassed once it returns). */
typedef void (*oe_pyproc_abandon_fn)(void* user, uint64_t instance_id, const char* method, double seconds,
                                     double limit_seconds);

typedef struct oe_pyproc_instance oe_pyproc_instance;

typedef struct oe_pyproc_bridge_api {
    uint32_t abi_version;                /* OE_PYPROC_BRIDGE_ABI_VERSION */
    uint32_t struct_size;                /* sizeof(oe_pyproc_bridge_api) */
    uint32_t python_major, python_minor; /* the Python the bridge was compiled for */

    /* --- interpreter (process-wide) --- */
    /* Start Python once. A second call with the same home/executable returns OK; with a different one
     * OE_PYPROC_ALREADY_INITIALIZED and a message "restart ... to switch Home" in error_out. */
    int (*initialize)(const oe_pyproc_python_config* config, char* error_out, size_t error_capacity);
    int (*is_initialized)(void);
    const char* (*python_version)(void); /* sys.version of the running interpreter */
    void (*set_log_callback)(oe_pyproc_log_fn fn, void* user);
    /* Mark all persistent thread states stale (audio device restart); each thread renews its own. */
    void (*reset_thread_states)(void);

    /* --- instances --- */
    oe_pyproc_instance* (*create)(uint64_t instance_id);
    void (*destroy)(oe_pyproc_instance* instance); /* the script's processor handle then raises */
    /* Import script_path (any file name) under a unique module name, then PyProcessor(processor,
     * num_channels, sample_rate). Re-calling it (same or other path) is a reload: the script and helper
     * modules from its folder are re-imported; a faulted instance recovers on success. */
    int (*load_script)(oe_pyproc_instance* instance, const char* script_path, int32_t num_channels, double sample_rate);
    int (*reload)(oe_pyproc_instance* instance); /* load_script with the last path/channels/rate */
    /* Re-instantiate PyProcessor (no re-import) after a stream or channel-count change. */
    int (*reinit)(oe_pyproc_instance* instance, int32_t num_channels, double sample_rate);
    /* Preallocate for blocks up to max_samples (staging buffer + views). Call before acquisition. */
    int (*prepare)(oe_pyproc_instance* instance, int32_t max_samples);
    int (*set_policy)(oe_pyproc_instance* instance, int32_t policy);
    /* Opt-in zero-copy: after a probation without keeps, `data` aliases the caller's rows (a C-contiguous view
     * when the rows are contiguous, else a strided one). Off (the default), every block is staged, and
     * whatever a script keeps of `data` holds its block's values; with it on, rows kept from the first block
     * an instance keeps anything of alias the caller's buffer (block_array.h). */
    int (*set_zero_copy)(oe_pyproc_instance* instance, int32_t enabled);

    /* --- audio thread --- */
    /* Events of a block are delivered first, then process. */
    int (*ttl_event)(oe_pyproc_instance* instance, const oe_pyproc_ttl_event* event);
    int (*spike)(oe_pyproc_instance* instance, const oe_pyproc_spike* spike);
    int (*process)(oe_pyproc_instance* instance, const oe_pyproc_block* block, oe_pyproc_block_result* result);
    /* Move up to capacity queued output events into out; returns how many. Lock-protected, no allocation. */
    int32_t (*drain_events)(oe_pyproc_instance* instance, oe_pyproc_event_out* out, int32_t capacity);

    /* --- acquisition / recording --- */
    int (*start_acquisition)(oe_pyproc_instance* instance);
    int (*stop_acquisition)(oe_pyproc_instance* instance);
    int (*start_recording)(oe_pyproc_instance* instance, const char* recording_dir /* absolute */);
    int (*stop_recording)(oe_pyproc_instance* instance);

    /* --- diagnostics --- */
    /* Message + formatted traceback of the last error ("" if none). */
    const char* (*get_last_error)(oe_pyproc_instance* instance);
    void (*get_state)(const oe_pyproc_instance* instance, oe_pyproc_instance_state* state);

    /* --- watchdog (see oe_pyproc_abandon_fn) --- */
    /* call_limit_s: process, handle_ttl_event and handle_spike (the audio thread; default 1 s);
     * load_limit_s: the script's import and __init__ (load_script, reload, reinit) and start/stop
     * acquisition/recording (the message thread; default 60 s). 0 turns a limit off. */
    int (*set_watchdog)(oe_pyproc_instance* instance, double call_limit_s, double load_limit_s);
    void (*set_abandon_callback)(oe_pyproc_abandon_fn fn, void* user); /* process-wide; NULL: none */
} oe_pyproc_bridge_api;

/* The only exported symbol. Returns NULL if requested_abi_version is not supported by this bridge. */
OE_PYPROC_BRIDGE_EXPORT const oe_pyproc_bridge_api* oe_pyproc_bridge_get_api(uint32_t requested_abi_version);
typedef const oe_pyproc_bridge_api* (*oe_pyproc_bridge_get_api_fn)(uint32_t requested_abi_version);

#ifdef __cplusplus
}
#endif

#endif /* OE_PYPROC_BRIDGE_H */
