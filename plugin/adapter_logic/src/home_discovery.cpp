#include "oe_pyproc_home_discovery.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>

namespace fs = std::filesystem;

namespace oe_pyproc::adapter {

namespace {

// The env name `oe-pyproc configure` suggests (discover.py's HOME_ENV_NAME): offered first when found.
constexpr const char* kHomeEnvName = "oe-python-plugin";

const char* const kCondaInstallNames[] = {"miniconda3", "anaconda3", "miniforge3", "mambaforge",
                                          "micromamba", "miniconda", "anaconda"};

std::string variable(const DiscoveryEnvironment& environment, const std::string& name) {
    auto found = environment.variables.find(name);
    return found == environment.variables.end() ? std::string() : found->second;
}

bool is_folder(const fs::path& path) {
    std::error_code error;
    return fs::is_directory(path, error);  // follows symlinks, as Python's Path.is_dir
}

// Sub-folders, sorted, without hidden ones (discover.py's _children).
std::vector<fs::path> children(const fs::path& folder) {
    std::vector<fs::path> found;
    std::error_code error;
    for (fs::directory_iterator it(folder, error), end; !error && it != end; it.increment(error)) {
        const std::string name = it->path().filename().string();
        if (!name.empty() && name[0] != '.' && is_folder(it->path())) {
            found.push_back(it->path());
        }
    }
    std::sort(found.begin(), found.end());
    return found;
}

// Paths listed in conda's environments.txt; read only if it is a regular file (a FIFO would block).
std::vector<fs::path> conda_environments_txt(const fs::path& file) {
    std::vector<fs::path> paths;
    std::error_code error;
    if (!fs::is_regular_file(file, error)) {
        return paths;
    }
    std::ifstream in(file, std::ios::binary);
    for (std::string line; std::getline(in, line);) {
        const size_t begin = line.find_first_not_of(" \t\r");
        const size_t end = line.find_last_not_of(" \t\r");
        if (begin != std::string::npos && line.find('\0') == std::string::npos) {
            paths.emplace_back(line.substr(begin, end - begin + 1));
        }
    }
    return paths;
}

std::vector<fs::path> conda_roots(const DiscoveryEnvironment& environment, const fs::path& home) {
    std::vector<fs::path> roots;
    for (const char* name : kCondaInstallNames) {
        roots.push_back(home / name);
    }
    roots.push_back(fs::path("/opt") / "conda");
    for (const char* name : kCondaInstallNames) {
        roots.push_back(fs::path("/opt") / name);
    }
    if (environment.system == DiscoveryEnvironment::System::Windows) {
        for (const char* name : {"LOCALAPPDATA", "PROGRAMDATA"}) {
            if (!variable(environment, name).empty()) {
                for (const char* install : kCondaInstallNames) {
                    roots.push_back(fs::path(variable(environment, name)) / install);
                }
            }
        }
    }
    if (!variable(environment, "CONDA_EXE").empty()) {
        roots.push_back(fs::path(variable(environment, "CONDA_EXE")).parent_path().parent_path());
    }
    if (!variable(environment, "MAMBA_ROOT_PREFIX").empty()) {
        roots.push_back(fs::path(variable(environment, "MAMBA_ROOT_PREFIX")));
    }
    return roots;
}

bool starts_with(const std::string& text, const std::string& start) {
    return text.compare(0, start.size(), start) == 0;
}

// Each real path once (the first wins), folders only (known ones even if missing); then the known ones, then
// an env named oe-python-plugin, then discovery order.
std::vector<FoundHome> deduplicated(const std::vector<FoundHome>& found, bool windows) {
    std::vector<FoundHome> unique;
    std::set<std::string> seen;
    for (const FoundHome& candidate : found) {
        std::error_code error;
        fs::path real = fs::canonical(candidate.path, error);
        if (error) {
            real = fs::path(candidate.path).lexically_normal();  // missing: only a known one is kept
        }
        if (!candidate.known && (error || !is_folder(real))) {
            continue;
        }
        std::string key = real.string();
        if (windows) {
            std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
        }
        if (seen.insert(key).second) {
            unique.push_back(candidate);
        }
    }
    std::stable_sort(unique.begin(), unique.end(), [](const FoundHome& a, const FoundHome& b) {
        const bool a_named = fs::path(a.path).filename() == kHomeEnvName;
        const bool b_named = fs::path(b.path).filename() == kHomeEnvName;
        return a.known != b.known ? a.known : a_named > b_named;
    });
    return unique;
}

std::string known_source(HomeOrigin origin) {
    switch (origin) {
        case HomeOrigin::Chain: return "the chain's python_home";
        case HomeOrigin::DefaultHomeFile: return "the default Home file";
        case HomeOrigin::InstallManifest: return "the install manifest";
        case HomeOrigin::HostPrefix: return "the host's environment";
        case HomeOrigin::Chooser: break;
    }
    return "chosen before";
}

}  // namespace

DiscoveryEnvironment this_process_environment() {
    DiscoveryEnvironment environment;
#if defined(_WIN32)
    environment.system = DiscoveryEnvironment::System::Windows;
    const char* home_variable = "USERPROFILE";
#elif defined(__APPLE__)
    environment.system = DiscoveryEnvironment::System::MacOS;
    const char* home_variable = "HOME";
#else
    const char* home_variable = "HOME";
#endif
    if (const char* home = std::getenv(home_variable)) {
        environment.user_home = home;
    }
    for (const char* name : {"CONDA_PREFIX", "CONDA_EXE", "MAMBA_ROOT_PREFIX", "PYENV_ROOT", "WORKON_HOME",
                             "LOCALAPPDATA", "PROGRAMDATA", "ProgramFiles", "ProgramFiles(x86)", "PROGRAMFILES"}) {
        if (const char* value = std::getenv(name)) {
            environment.variables[name] = value;
        }
    }
    return environment;
}

std::vector<FoundHome> discover_homes(const DiscoveryEnvironment& environment) {
    return chooser_homes({}, environment);
}

std::vector<FoundHome> chooser_homes(const std::vector<HomeCandidate>& known, const DiscoveryEnvironment& environment) {
    using System = DiscoveryEnvironment::System;
    const fs::path home = environment.user_home;
    std::vector<FoundHome> found;
    for (const HomeCandidate& candidate : known) {
        if (!candidate.path.empty()) {
            found.push_back({candidate.path, known_source(candidate.origin), true});
        }
    }
    auto add = [&found](const fs::path& path, const std::string& source) {
        found.push_back({path.string(), source, false});
    };

    if (!variable(environment, "CONDA_PREFIX").empty()) {
        add(variable(environment, "CONDA_PREFIX"), "CONDA_PREFIX (active)");
    }
    if (!home.empty()) {
        for (const fs::path& path : conda_environments_txt(home / ".conda" / "environments.txt")) {
            add(path, "conda environments.txt");
        }
    }
    for (const fs::path& root : conda_roots(environment, home)) {
        if (home.empty() && root.is_relative()) {
            continue;
        }
        if (is_folder(root / "conda-meta")) {
            add(root, "conda base " + root.filename().string());
        }
        for (const fs::path& env : children(root / "envs")) {
            add(env, "conda env (" + root.filename().string() + "/envs)");
        }
    }
    if (!home.empty()) {
        for (const fs::path& env : children(home / ".conda" / "envs")) {
            add(env, "conda env (~/.conda/envs)");
        }
    }

    const std::string pyenv_variable = variable(environment, "PYENV_ROOT");
    const fs::path pyenv_root = !pyenv_variable.empty() ? fs::path(pyenv_variable) : home / ".pyenv";
    if (!pyenv_variable.empty() || !home.empty()) {
        for (const fs::path& version : children(pyenv_root / "versions")) {
            add(version, "pyenv");
            for (const fs::path& env : children(version / "envs")) {
                add(env, "pyenv-virtualenv");
            }
        }
    }

    // venvs where people and tools keep them (only sub-folders with a pyvenv.cfg).
    if (!home.empty() || !variable(environment, "WORKON_HOME").empty()) {
        const std::string workon = variable(environment, "WORKON_HOME");
        const std::pair<fs::path, std::string> venv_folders[] = {
            {!workon.empty() ? fs::path(workon) : home / ".virtualenvs", "virtualenvwrapper"},
            {home / ".local" / "share" / "virtualenvs", "pipenv"},
            {home / "venvs", "venv (~/venvs)"},
            {home / ".venvs", "venv (~/.venvs)"},
        };
        for (const auto& [folder, source] : venv_folders) {
            if (folder.is_relative()) {
                continue;  // no user home
            }
            for (const fs::path& venv : children(folder)) {
                std::error_code error;
                if (fs::is_regular_file(venv / "pyvenv.cfg", error)) {
                    add(venv, source);
                }
            }
        }
    }

    if (environment.system == System::MacOS) {  // unverified here, as in discover.py
        for (const fs::path& version : children("/Library/Frameworks/Python.framework/Versions")) {
            add(version, "python.org");
        }
        for (const char* brew : {"/opt/homebrew", "/usr/local"}) {
            std::vector<fs::path> formulas;
            for (const fs::path& formula : children(fs::path(brew) / "opt")) {
                if (starts_with(formula.filename().string(), "python@3")) {
                    formulas.push_back(formula);
                }
            }
            for (const fs::path& formula : formulas) {
                for (const fs::path& version : children(formula / "Frameworks" / "Python.framework" / "Versions")) {
                    if (version.filename() != "Current") {
                        add(version, "Homebrew");
                    }
                }
            }
        }
    }
    if (environment.system == System::Windows) {  // unverified, as in discover.py
        if (!variable(environment, "LOCALAPPDATA").empty()) {
            for (const fs::path& install :
                 children(fs::path(variable(environment, "LOCALAPPDATA")) / "Programs" / "Python")) {
                if (starts_with(install.filename().string(), "Python")) {
                    add(install, "per-user install");
                }
            }
        }
        for (const char* name : {"ProgramFiles", "ProgramFiles(x86)", "PROGRAMFILES"}) {
            if (!variable(environment, name).empty()) {
                for (const fs::path& install : children(variable(environment, name))) {
                    if (starts_with(install.filename().string(), "Python3")) {
                        add(install, "all-users install");
                    }
                }
            }
        }
    }
    return deduplicated(found, environment.system == System::Windows);
}

std::vector<JudgedHome> judge_homes(const std::vector<FoundHome>& found, const HomeValidator& validate) {
    std::vector<JudgedHome> judged;
    for (const FoundHome& candidate : found) {
        judged.push_back({candidate, validate(candidate.path)});
    }
    return judged;
}

std::vector<HomeMenuEntry> home_menu_entries(const std::vector<JudgedHome>& judged, double max_width,
                                             const TextWidth& width) {
    std::vector<HomeMenuEntry> usable, unusable;
    for (const JudgedHome& home : judged) {
        HomeMenuEntry entry;
        entry.path = home.found.path;
        entry.usable = home.validation.ok;
        if (entry.usable) {
            const HomeInfo& info = home.validation.info;
            std::string about = " - Python " + info.version + (info.is_venv ? " venv" : "");
            if (!home.validation.numpy_version.empty()) {
                about += ", numpy " + home.validation.numpy_version;
            }
            about += " (" + home.found.source + ")";
            const double room = max_width - width(about);
            entry.text = fit_path(entry.path, room, width) + about;
            usable.push_back(entry);
        } else {
            // The reason usually names the path already; the path is kept short so the reason shows.
            const std::string path = fit_path(entry.path, max_width / 3, width);
            entry.text = path + " - " + fit_words(home.validation.reason, max_width - width(path + " - "), width);
            unusable.push_back(entry);
        }
    }
    usable.insert(usable.end(), unusable.begin(), unusable.end());
    return usable;
}

}  // namespace oe_pyproc::adapter
