// `roo receive`: the data_receiver-compatible TCP sink for tests and benchmarks (flags in docs/tools.md).
#include "commands.hpp"
#include "receive_options.hpp"

#include "roo/core/error.hpp"

#include <memory>

namespace roo::cli {

void add_receive_command(CLI::App& app) {
  auto options = std::make_shared<ReceiveOptions>();
  CLI::App* command =
      app.add_subcommand("receive", "Listen for TCP connections and print or count what arrives (data_receiver)");
  command->footer(
      "Examples:\n"
      "  roo receive --listen 127.0.0.1:7002\n"
      "  roo receive --listen 127.0.0.1:7002 --framed --expect 1000 > out.txt\n"
      "  roo receive --listen 127.0.0.1:0 --framed --no-write --stats\n"
      "Prints \"Listening on HOST:PORT\" (the real port) to stderr first. SIGTERM or SIGINT: flush and exit 0.");
  command
      ->add_option("--listen,-l", options->listen, "Address to listen on, HOST:PORT (port 0 = any free port; required)")
      ->required()
      ->type_name("HOST:PORT");
  command->add_flag("--framed", options->framed,
                    "Read `u32 BE length | payload` frames and print each payload followed by a newline "
                    "(default: copy bytes to stdout as they are)");
  command->add_flag("--no-write,-w", options->no_write, "Count messages only; print nothing to stdout (default off)");
  command->add_option("--buffer-size", options->buffer_size, "Bytes per socket read (default 262144 = 256 KiB)")
      ->type_name("BYTES");
  auto* expect = command
                     ->add_option("--expect,-e", options->expect,
                                  "Exit 0 after N messages: frames with --framed, newline-terminated lines otherwise "
                                  "(default: run until SIGTERM/SIGINT)")
                     ->type_name("N");
  command->add_flag("--stats", options->stats,
                    "At exit, print `received N messages (B bytes) in S s, R msg/s` to stderr, timed from the first "
                    "byte received to the last (default off)");
  command->callback([options, expect] {
    options->has_expect = expect->count() > 0;
    if (options->buffer_size == 0) {
      throw core::UsageError("use --buffer-size 0 (a read needs at least 1 byte)");
    }
    run_receive(*options);
  });
}

}  // namespace roo::cli
