#include "gui_layout.h"

#include <algorithm>

namespace oe_pyproc {
namespace gui_layout {

namespace {
std::string joined(const std::string& folder, const std::string& name) {
    return folder.empty() || folder.back() == '/' || folder.back() == '\\' ? folder + name : folder + "/" + name;
}
}  // namespace

bool is_dev_build_root(const std::string& root) {
    std::string path = root;
    std::replace(path.begin(), path.end(), '\\', '/');
    return (path + "/").find("plugin-GUI/Build/") != std::string::npos;
}

std::string configs_dir(const std::string& root, int api) {
    return is_dev_build_root(root) ? root : joined(root, "configs-api" + std::to_string(api));
}

std::string plugins_dir(const std::string& root, int api) {
    return joined(root, is_dev_build_root(root) ? "plugins" : "plugins-api" + std::to_string(api));
}

std::string default_home_file(const std::string& root, int api) {
    return joined(configs_dir(root, api), "oe-pyproc.json");
}

std::string manifest_file(const std::string& root, int api) {
    return joined(plugins_dir(root, api), "oe-pyproc-manifest.json");
}

}  // namespace gui_layout
}  // namespace oe_pyproc
