#pragma once

#include <optional>
#include <string>

namespace roo::python {

/// The active virtualenv (`VIRTUAL_ENV`): its site-packages folder for the Python Roo embeds, or nothing when no
/// virtualenv is active. Throws core::UsageError, naming both versions, when the virtualenv was made from another
/// Python (`version`/`version_info` in its pyvenv.cfg or, without those, its lib/pythonX.Y folder): its packages
/// could not be imported, and the import error would not say why. Reads files only; any thread.
[[nodiscard]] std::optional<std::string> virtualenv_site_packages();

}  // namespace roo::python
