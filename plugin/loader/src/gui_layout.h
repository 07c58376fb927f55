// The GUI's saved-state folders under one root (DESIGN §2, §5), the rule the CLI's gui.GuiLayout follows
// too: a development build (its root's path contains "plugin-GUI/Build/") keeps configs directly in the
// root and plugins in root/plugins; an installed GUI uses root/configs-api<N> and root/plugins-api<N>.
#pragma once

#include <string>

namespace oe_pyproc {
namespace gui_layout {

bool is_dev_build_root(const std::string& root);
std::string configs_dir(const std::string& root, int api);
std::string plugins_dir(const std::string& root, int api);
std::string default_home_file(const std::string& root, int api);  // <configs>/oe-pyproc.json
std::string manifest_file(const std::string& root, int api);      // <plugins>/oe-pyproc-manifest.json

}  // namespace gui_layout
}  // namespace oe_pyproc
