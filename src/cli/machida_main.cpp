#include "commands.hpp"

namespace roo::cli {

int machida_main(int, char**) { return 2; }

}  // namespace roo::cli
