// The editor's status text: which lines and states, and shortening that keeps whole words and the end of paths,
// with the full text always in the tooltip. Widths are measured in characters here (the editor: its font).
#include "adapter_check.h"
#include "oe_pyproc_editor_text.h"

#include <string>

using namespace oe_pyproc::adapter;

namespace {

// Characters (UTF-8 code points), as a stand-in for a font's width.
double characters(const std::string& text) {
    double count = 0;
    for (char c : text) {
        count += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
    }
    return count;
}

bool ends_with(const std::string& text, const std::string& tail) {
    return text.size() >= tail.size() && text.compare(text.size() - tail.size(), tail.size(), tail) == 0;
}

StatusInfo running_status() {
    StatusInfo status;
    status.home = "/home/lab/miniconda3/envs/oe-python-plugin";
    status.python_version = "3.10.13";
    status.script_path = "/data/experiments/2026/scripts/bandpass_filter.py";
    status.loaded = true;
    return status;
}

}  // namespace

TEST_CASE("fit_words: whole text when it fits, else whole words and an ellipsis") {
    const std::string text = "ValueError: operands could not be broadcast together";
    CHECK_EQ(fit_words(text, 100, characters), text);
    CHECK_EQ(fit_words(text, 30, characters), std::string("ValueError: operands could\u2026"));
    for (double width = 12; width < characters(text); ++width) {
        const std::string fitted = fit_words(text, width, characters);
        CHECK(characters(fitted) <= width);
        CHECK(ends_with(fitted, kEllipsis));
        // Cut at a word end: what precedes the ellipsis is followed by a space in the full text.
        const std::string kept = fitted.substr(0, fitted.size() - std::string(kEllipsis).size());
        CHECK(text.compare(0, kept.size(), kept) == 0);
        CHECK_EQ(text[kept.size()], ' ');
    }
    // Only a first word that is too long by itself is cut inside, never inside a UTF-8 character.
    CHECK_EQ(fit_words("Überlänge_ohne_Leerzeichen rest", 6, characters), std::string("Überl\u2026"));
    CHECK_EQ(fit_words("µµµµµµ", 4, characters), std::string("µµµ\u2026"));
}

TEST_CASE("fit_path keeps the end of a path, whole folders") {
    const std::string path = "/home/lab/miniconda3/envs/oe-python-plugin";
    CHECK_EQ(fit_path(path, 60, characters), path);
    CHECK_EQ(fit_path(path, 30, characters), std::string("\u2026/envs/oe-python-plugin"));
    CHECK_EQ(fit_path(path, 18, characters), std::string("\u2026/oe-python-plugin"));
    CHECK_EQ(fit_path(path, 10, characters), std::string("oe-python\u2026"));  // the last name alone is too long
    CHECK_EQ(fit_path("C:\\Users\\lab\\envs\\oe", 12, characters), std::string("\u2026\\envs\\oe"));
}

TEST_CASE("editor lines: Home with version, script state, error line, block time against the budget") {
    StatusInfo status = running_status();
    status.last_error =
        "Traceback (most recent call last):\n  File \"x.py\", line 3, in process\n"
        "ValueError: operands could not be broadcast together with shapes (4,697) (3,)\n";
    status.timing.blocks = 100;
    status.timing.mean_us = 612.0;
    status.timing.max_us = 1480.0;
    status.timing.budget_us = 23200.0;
    status.timing.load = 612.0 / 23200.0;
    EditorText text = editor_text(status, 200, characters);
    CHECK_EQ(text.home.text, std::string("Home: /home/lab/miniconda3/envs/oe-python-plugin (Python 3.10.13)"));
    CHECK(!text.home.shortened);
    CHECK_EQ(text.script.text, std::string("Script: bandpass_filter.py - loaded, raising (policy continue)"));
    CHECK_CONTAINS(text.script.tooltip, status.script_path);
    CHECK_CONTAINS(text.error.text, "ValueError: operands could not be broadcast");
    CHECK_CONTAINS(text.error.tooltip, "Error... shows the full traceback");
    CHECK(text.has_error);
    CHECK_EQ(text.block.text, std::string("Block: 0.612 ms mean, 1.48 ms max of 23.20 ms (3%)"));
    CHECK_CONTAINS(text.block.tooltip, "budget");

    // Narrow: the Home keeps its end and its version, the script its state; every full text is in a tooltip.
    text = editor_text(status, 48, characters);
    CHECK_EQ(text.home.text, std::string("Home: \u2026/envs/oe-python-plugin (Python 3.10.13)"));
    CHECK(text.home.shortened);
    CHECK_CONTAINS(text.home.tooltip, status.home);
    CHECK_CONTAINS(text.script.text, " - loaded, raising (policy continue)");
    CHECK_CONTAINS(text.error.tooltip, "with shapes (4,697) (3,)");
    for (const EditorLine* line : {&text.home, &text.script, &text.error, &text.block}) {
        CHECK(characters(line->text) <= 48);
        CHECK(!line->shortened || line->tooltip.find(kEllipsis) == std::string::npos);  // the tooltip is full
    }
}

TEST_CASE("editor script states: no script, checking Home, loading, faulted, not loaded") {
    StatusInfo status;
    EditorText text = editor_text(status, 80, characters);
    CHECK_EQ(text.home.text, std::string("Home: none"));
    CHECK_EQ(text.script.text, std::string("Script: none - choose one with Script..."));
    CHECK(text.error.text.empty() && text.block.text.empty() && !text.has_error);

    status.script_path = "/s/slow.py";
    status.checking_home = "/envs/cold-conda-env";
    text = editor_text(status, 80, characters);
    CHECK_EQ(text.home.text, std::string("Home: checking Home\u2026 /envs/cold-conda-env"));
    CHECK_EQ(text.script.text, std::string("Script: slow.py - waiting for the Home check"));
    CHECK(script_state(status) == ScriptState::CheckingHome);

    status = running_status();
    status.loaded = false;
    status.loading_script = "/s/a_script_whose_import_takes_seconds.py";
    text = editor_text(status, 80, characters);
    CHECK_EQ(text.script.text, std::string("Script: loading script\u2026 a_script_whose_import_takes_seconds.py"));
    CHECK(script_state(status) == ScriptState::Loading);
    CHECK_CONTAINS(status_json(status), "\"loading_script\": \"/s/a_script_whose_import_takes_seconds.py\"");
    text = editor_text(status, 40, characters);
    CHECK_EQ(text.script.text, std::string("Script: loading script\u2026 a_script_whose_\u2026"));
    CHECK_CONTAINS(text.script.tooltip, "/s/a_script_whose_import_takes_seconds.py");

    status = running_status();
    status.faulted = true;
    status.last_error = "Traceback ...\nZeroDivisionError: division by zero\n";
    text = editor_text(status, 80, characters);
    CHECK_EQ(text.script.text, std::string("Script: bandpass_filter.py - FAULTED, bypassed until Reload"));
    CHECK_EQ(text.error.text, std::string("Error: ZeroDivisionError: division by zero"));

    status = running_status();
    status.loaded = false;
    status.last_error = "SyntaxError: invalid syntax";
    text = editor_text(status, 80, characters);
    CHECK_EQ(text.script.text, std::string("Script: bandpass_filter.py - not loaded, blocks pass through"));

    status = StatusInfo();
    status.home_problem = "no valid Python Home: the chain's python_home /old/env has no lib/python3.X";
    text = editor_text(status, 40, characters);
    CHECK_EQ(text.home.text, std::string("Home: none - no valid Python Home: the\u2026"));
    CHECK_CONTAINS(text.home.tooltip, "/old/env has no lib/python3.X");
}
