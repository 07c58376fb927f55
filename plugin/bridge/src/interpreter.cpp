#include "interpreter.h"

namespace oe_pyproc {

Interpreter& interp() {
    static Interpreter* state = new Interpreter();  // never destroyed: Python is never finalised
    return *state;
}

void log_message(int level, uint64_t instance_id, const std::string& message) {
    Interpreter& state = interp();
    if (state.log_fn != nullptr) {
        state.log_fn(state.log_user, level, instance_id, message.c_str());
    }
}

}  // namespace oe_pyproc
