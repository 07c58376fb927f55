// The chooser's Homes: discovery in discover.py's places and order, on folders made here, then judged by the
// real loader: real venvs with numpy (the test Homes, placed where conda and pyenv keep envs), a real venv of
// the same pyenv Python without numpy, the pyenv Python itself, and a folder that is no Python at all.
//   test_adapter_home_discovery <bridge_dir> <work_dir> <home with numpy>...
#include "adapter_check.h"
#include "oe_pyproc_home_discovery.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace oe_pyproc;
using namespace oe_pyproc::adapter;
namespace fs = std::filesystem;

namespace {

std::string g_bridges;
fs::path g_work;
std::vector<std::string> g_homes;

double characters(const std::string& text) {
    double count = 0;
    for (char c : text) {
        count += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
    }
    return count;
}

fs::path fresh(const std::string& name) {
    fs::path folder = g_work / name;
    fs::remove_all(folder);
    fs::create_directories(folder);
    return folder;
}

void make_folder(const fs::path& path) {
    fs::create_directories(path);
}

void link_folder(const fs::path& target, const fs::path& link) {
    fs::create_directories(link.parent_path());
    fs::create_directory_symlink(fs::canonical(target), link);
}

// Only what discovery found under `root` (this machine may have conda or pyenv folders of its own).
std::vector<FoundHome> under(const std::vector<FoundHome>& found, const fs::path& root) {
    std::vector<FoundHome> mine;
    for (const FoundHome& home : found) {
        if (home.path.compare(0, root.string().size(), root.string()) == 0) {
            mine.push_back(home);
        }
    }
    return mine;
}

std::vector<std::string> names(const std::vector<FoundHome>& found) {
    std::vector<std::string> out;
    for (const FoundHome& home : found) {
        out.push_back(fs::path(home.path).filename().string() + " <" + home.source + ">");
    }
    return out;
}

}  // namespace

TEST_CASE("discovery: discover.py's places and order, folders only, each real folder once, oe-python-plugin first") {
    const fs::path user = fresh("user-order");
    make_folder(user / "miniconda3" / "conda-meta");
    for (const char* env : {"b_env", "a_env", ".hidden", "oe-python-plugin"}) {
        make_folder(user / "miniconda3" / "envs" / env);
    }
    std::ofstream(user / "miniconda3" / "envs" / "not_a_folder.txt") << "x";
    link_folder(user / "miniconda3" / "envs" / "b_env", user / "miniconda3" / "envs" / "z_link_to_b");
    make_folder(user / "extra_env");
    make_folder(user / "active_env");
    make_folder(user / ".conda" / "envs" / "c_env");
    std::ofstream(user / ".conda" / "environments.txt") << (user / "miniconda3" / "envs" / "a_env").string() << "\n\n  "
                                                        << (user / "extra_env").string() << "  \n/does/not/exist\n";
    make_folder(user / ".pyenv" / "versions" / "3.10.13" / "envs" / "lab");
    make_folder(user / "own-pyenv" / "versions" / "3.12.1");
    // venv folders: only sub-folders with a pyvenv.cfg count.
    for (const char* venv :
         {".virtualenvs/wrapped", ".local/share/virtualenvs/pipenv-abc", "venvs/lab-venv", ".venvs/dot-venv"}) {
        make_folder(user / venv);
        std::ofstream(user / venv / "pyvenv.cfg") << "home = /nowhere\n";
    }
    make_folder(user / "venvs" / "notes");

    DiscoveryEnvironment environment;
    environment.user_home = user.string();
    environment.variables["CONDA_PREFIX"] = (user / "active_env").string();
    std::vector<std::string> found = names(under(discover_homes(environment), user));
    const std::vector<std::string> expected = {"oe-python-plugin <conda env (miniconda3/envs)>",
                                               "active_env <CONDA_PREFIX (active)>",
                                               "a_env <conda environments.txt>",
                                               "extra_env <conda environments.txt>",
                                               "miniconda3 <conda base miniconda3>",
                                               "b_env <conda env (miniconda3/envs)>",
                                               "c_env <conda env (~/.conda/envs)>",
                                               "3.10.13 <pyenv>",
                                               "lab <pyenv-virtualenv>",
                                               "wrapped <virtualenvwrapper>",
                                               "pipenv-abc <pipenv>",
                                               "lab-venv <venv (~/venvs)>",
                                               "dot-venv <venv (~/.venvs)>"};
    CHECK_EQ(found, expected);
    if (found != expected) {
        for (const auto& name : found) {
            std::fprintf(stderr, "  found %s\n", name.c_str());
        }
    }

    // The chooser: the Homes the resolution looked at come first (a missing one too), each folder once.
    const std::vector<HomeCandidate> known = {
        {"", HomeOrigin::Chain},
        {(user / "gone").string(), HomeOrigin::DefaultHomeFile},
        {(user / "miniconda3" / "envs" / "b_env").string(), HomeOrigin::InstallManifest}};
    std::vector<FoundHome> offered = under(chooser_homes(known, environment), user);
    CHECK(offered.size() == expected.size() + 1);
    if (offered.size() == expected.size() + 1) {
        CHECK_EQ(names({offered[0], offered[1], offered[2]}),
                 (std::vector<std::string>{"gone <the default Home file>", "b_env <the install manifest>",
                                           "oe-python-plugin <conda env (miniconda3/envs)>"}));
        CHECK(offered[0].known && offered[1].known && !offered[2].known);
    }

    // PYENV_ROOT replaces ~/.pyenv; CONDA_EXE and MAMBA_ROOT_PREFIX name more conda roots.
    make_folder(user / "mamba" / "envs" / "m_env");
    make_folder(user / "tools" / "conda" / "envs" / "t_env");
    environment.variables.clear();
    environment.variables["PYENV_ROOT"] = (user / "own-pyenv").string();
    environment.variables["MAMBA_ROOT_PREFIX"] = (user / "mamba").string();
    environment.variables["CONDA_EXE"] = (user / "tools" / "conda" / "bin" / "conda").string();
    make_folder(user / "workon" / "moved");
    std::ofstream(user / "workon" / "moved" / "pyvenv.cfg") << "home = /nowhere\n";
    environment.variables["WORKON_HOME"] = (user / "workon").string();
    found = names(under(discover_homes(environment), user));
    CHECK(std::find(found.begin(), found.end(), "moved <virtualenvwrapper>") != found.end());
    CHECK(std::find(found.begin(), found.end(), "wrapped <virtualenvwrapper>") == found.end());
    CHECK(std::find(found.begin(), found.end(), "3.12.1 <pyenv>") != found.end());
    CHECK(std::find(found.begin(), found.end(), "3.10.13 <pyenv>") == found.end());
    CHECK(std::find(found.begin(), found.end(), "m_env <conda env (mamba/envs)>") != found.end());
    CHECK(std::find(found.begin(), found.end(), "t_env <conda env (conda/envs)>") != found.end());
}

TEST_CASE("judging: the loader's verdict on real venvs, a pyenv Python without numpy and a non-Python folder") {
    const fs::path user = fresh("user-judged");
    // The first test Home as the env configure would make, the others as conda envs.
    link_folder(g_homes[0], user / ".conda" / "envs" / "oe-python-plugin");
    for (size_t i = 1; i < g_homes.size(); ++i) {
        link_folder(g_homes[i], user / "miniconda3" / "envs" / ("home" + std::to_string(i)));
    }
    // The pyenv Python the first Home is a venv of (no numpy of its own), and a fresh venv of it (no numpy).
    HomeInfo info;
    CHECK(inspect_home(g_homes[0], info).empty());
    const fs::path base = info.base_prefix;
    link_folder(base, user / ".pyenv" / "versions" / base.filename());
    const fs::path bare_venv = user / ".conda" / "envs" / "bare-venv";
    const std::string command =
        "'" + (base / "bin" / "python3").string() + "' -m venv --without-pip '" + bare_venv.string() + "'";
    CHECK_EQ(std::system(command.c_str()), 0);
    make_folder(user / ".conda" / "envs" / "not-python");
    // The pyenv Python should have no numpy of its own, but a machine may differ: ask it directly.
    const bool base_has_numpy =
        std::system(("'" + (base / "bin" / "python3").string() + "' -I -c 'import numpy' 2>/dev/null").c_str()) == 0;

    DiscoveryEnvironment environment;
    environment.user_home = user.string();
    std::vector<FoundHome> found = under(discover_homes(environment), user);
    CHECK_EQ(found.size(), g_homes.size() + 3);
    ValidationOptions options;
    options.bridge_dir = g_bridges;
    std::vector<JudgedHome> judged =
        judge_homes(found, [&options](const std::string& path) { return validate_home(path, options); });
    CHECK_EQ(judged.size(), found.size());
    size_t usable = 0;
    for (const JudgedHome& home : judged) {
        std::printf("  %-60s %s %s\n", home.found.path.c_str(),
                    home.validation.ok ? "usable" : "not usable:", home.validation.reason.c_str());
        usable += home.validation.ok ? 1 : 0;
        const std::string name = fs::path(home.found.path).filename().string();
        if (name == "bare-venv" || name == "not-python") {
            CHECK(!home.validation.ok);
            CHECK(!home.validation.reason.empty());
        }
        if (name == base.filename().string()) {
            CHECK_EQ(home.validation.ok, base_has_numpy);
        }
        if (name == "bare-venv" && !home.validation.ok) {
            CHECK_CONTAINS(home.validation.reason, "numpy");
        }
    }
    CHECK_EQ(usable, g_homes.size() + (base_has_numpy ? 1 : 0));

    const double menu_width = 90;
    std::vector<HomeMenuEntry> entries = home_menu_entries(judged, menu_width, characters);
    CHECK_EQ(entries.size(), judged.size());
    if (!entries.empty()) {
        CHECK(entries[0].usable);
        CHECK_EQ(entries[0].path, (user / ".conda" / "envs" / "oe-python-plugin").string());
        CHECK_CONTAINS(entries[0].text, "oe-python-plugin - Python " + info.version + " venv, numpy ");
    }
    bool usable_first = true;
    for (size_t i = 0; i < entries.size(); ++i) {
        usable_first = usable_first && (i < usable) == entries[i].usable;
        CHECK(characters(entries[i].text) <= menu_width);
    }
    CHECK(usable_first);
}

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: %s BRIDGE_DIR WORK_DIR HOME...\n", argv[0]);
        return 2;
    }
    g_bridges = argv[1];
    g_work = fs::absolute(argv[2]);
    for (int i = 3; i < argc; ++i) {
        std::error_code error;
        if (!fs::is_directory(argv[i], error)) {
            std::fprintf(stderr, "not a folder: %s\n", argv[i]);
            return 2;
        }
        g_homes.push_back(fs::absolute(argv[i]).string());
    }
    fs::create_directories(g_work);
    return adapter_check::run_all();
}
