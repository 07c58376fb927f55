// oe_pyproc_home_discovery.h — the Homes on this machine, for the chooser the GUI offers when no Home is known
// (no python_home in the chain, no default Home file, not headless): the same places as `oe-pyproc homes`
// looks in (oe_pyproc_setup/home/discover.py: conda installs and their envs, ~/.conda, pyenv and
// pyenv-virtualenv, venvs of virtualenvwrapper, pipenv, ~/venvs and ~/.venvs, python.org and Homebrew on
// macOS, per-user and all-users installs on Windows), each
// judged by the loader's own validation. Judging starts every candidate's interpreter: run it off the
// message thread.
#pragma once

#include "oe_pyproc_adapter_logic.h"
#include "oe_pyproc_editor_text.h"

#include <map>
#include <string>
#include <vector>

namespace oe_pyproc::adapter {

// A folder that may be a Home, with where it was found ("pyenv", "conda env (miniconda3/envs)", ...; the
// names discover.py gives).
struct FoundHome {
    std::string path;
    std::string source;
    bool known = false;  // one the resolution looked at (chain, default Home file, manifest): kept even if missing
};

// What discovery looks at, so tests can point it at folders of their own.
struct DiscoveryEnvironment {
    enum class System { Linux, MacOS, Windows };
    System system = System::Linux;
    std::string user_home;                         // HOME (Windows: USERPROFILE)
    std::map<std::string, std::string> variables;  // CONDA_PREFIX, CONDA_EXE, PYENV_ROOT, WORKON_HOME, ...
};
DiscoveryEnvironment this_process_environment();

// Candidates in discover.py's order (the active conda env, conda's environments.txt, the usual conda
// installs and their envs, ~/.conda/envs, pyenv versions and their envs, venvs in the usual folders, then the
// platform's installs), only
// folders, each real path once, an env named oe-python-plugin first. Nothing is inspected here.
std::vector<FoundHome> discover_homes(const DiscoveryEnvironment& environment);

// What the chooser offers: the Homes the resolution looked at (those set: the chain's python_home, the default
// Home file's, the install manifest's; even when missing, so their reason shows), then discover_homes(); each
// real folder once, in that order.
std::vector<FoundHome> chooser_homes(const std::vector<HomeCandidate>& known, const DiscoveryEnvironment& environment);

struct JudgedHome {
    FoundHome found;
    Validation validation;  // the loader's verdict (validate_home)
};

// Validates every candidate, in order (slow: starts each one's interpreter).
std::vector<JudgedHome> judge_homes(const std::vector<FoundHome>& found, const HomeValidator& validate);

// One entry of the chooser's menu: the usable Homes first (discovery order), then the others with the
// loader's reason, greyed out.
struct HomeMenuEntry {
    std::string text;  // fitted to the menu's width
    std::string path;
    bool usable = false;
};
std::vector<HomeMenuEntry> home_menu_entries(const std::vector<JudgedHome>& judged, double max_width,
                                             const TextWidth& width);

}  // namespace oe_pyproc::adapter
