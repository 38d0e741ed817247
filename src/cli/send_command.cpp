// `roo send`: the Giles-sender-compatible load generator (flags in docs/tools.md).
#include "commands.hpp"
#include "send_options.hpp"

#include "roo/core/error.hpp"

#include <memory>

namespace roo::cli {

namespace {

/// Rejects flag combinations Giles would silently misread. Each message completes "roo send: unable to ...".
void validate(const SendOptions& options, const CLI::App& command) {
  auto given = [&](const char* flag) { return command.count(flag) > 0; };
  if (given("--msg-size") && !options.binary) {
    throw core::UsageError("use --msg-size without --binary (it sizes binary records)");
  }
  if (options.variable_size && !options.binary) {
    throw core::UsageError("use --variable-size without --binary (it describes binary records)");
  }
  if (options.binary && options.files.empty()) {
    throw core::UsageError("use --binary without --file (binary records are read from files)");
  }
  if (options.binary && options.msg_size == 0 && !options.variable_size) {
    throw core::UsageError("read --binary input without a record format: add --msg-size BYTES or --variable-size");
  }
  if (options.msg_size != 0 && options.variable_size) {
    throw core::UsageError("combine --msg-size with --variable-size (pick one record format)");
  }
  if (given("--msg-size") && options.msg_size == 0) {
    throw core::UsageError("use --msg-size 0 (records need at least 1 byte)");
  }
  if (options.u64 && !options.files.empty()) {
    throw core::UsageError("combine --u64 with --file (--u64 generates its own values)");
  }
  if (given("--partition") && !options.u64) {
    throw core::UsageError("use --partition without --u64 (it is appended to --u64 values)");
  }
  if (given("--start-from") && !options.files.empty()) {
    throw core::UsageError("combine --start-from with --file (it applies to generated values)");
  }
  if (options.repeat && options.files.empty()) {
    throw core::UsageError("use --repeat without --file (generated values never run out)");
  }
  if (options.connect_timeout_s < 0) {
    throw core::UsageError("use a negative --connect-timeout (give 0 or more seconds)");
  }
  if (options.batch_size == 0) {
    throw core::UsageError("use --batch-size 0 (a batch needs at least 1 message)");
  }
}

}  // namespace

void add_send_command(CLI::App& app) {
  auto options = std::make_shared<SendOptions>();
  CLI::App* command = app.add_subcommand("send", "Send framed messages to one or more TCP listeners (Giles sender)");
  command->set_help_flag("--help", "Show this help and exit");
  command->footer(
      "Examples:\n"
      "  roo send --host 127.0.0.1:7010 --file words.txt --messages 1000 --interval 0\n"
      "  roo send --host 127.0.0.1:7010 --file votes.msg --binary --msg-size 9 --repeat --messages 1000000 "
      "--batch-size 10000 --interval 0 --no-write\n"
      "  roo send --host 127.0.0.1:7010,127.0.0.1:7011 --u64 --partition key1 --messages 500\n"
      "Without --file, sends the integer strings \"1\", \"2\", ... each framed `u32 BE length | digits`.\n"
      "Writes sent.txt in the current directory (`<wallclock_ns>, <payload>` per message) unless --no-write.");
  command
      ->add_option("--host,-h", options->hosts,
                   "Receiver address HOST:PORT; several, comma-separated, get messages round-robin (required)")
      ->required()
      ->delimiter(',')
      ->type_name("HOST:PORT[,...]");
  command
      ->add_option("--messages,-m", options->messages,
                   "Messages to send (default 0 = the whole input once; with --repeat or without --file: no end)")
      ->type_name("N");
  command
      ->add_option("--file,-f", options->files,
                   "Input files, comma-separated, read in order (default: none, send integer strings)")
      ->delimiter(',')
      ->type_name("FILE[,...]");
  command->add_option("--batch-size,-s", options->batch_size, "Messages per write (default 500)")->type_name("N");
  command
      ->add_option("--interval,-i", options->interval_ns,
                   "Pause between batches in nanoseconds (default 5000000 = 5 ms; 0 = as fast as possible)")
      ->type_name("NS");
  command->add_flag("--repeat,-r", options->repeat,
                    "Loop over the input files until --messages are sent (default off)");
  command->add_flag("--binary,-y", options->binary,
                    "The files hold binary records (needs --msg-size or --variable-size; default: text lines)");
  command
      ->add_option("--msg-size,-g", options->msg_size,
                   "With --binary: fixed record size in bytes, header included; records are sent verbatim")
      ->type_name("BYTES");
  command->add_flag("--variable-size,-z", options->variable_size,
                    "With --binary: the files are `u32 BE length | payload` records, each sent with a fresh header");
  command->add_flag("--u64,-u", options->u64,
                    "Send u64 counter records `u32 BE (8+len(partition)) | u64 BE value | partition` instead of text");
  command
      ->add_option("--start-from,-v", options->start_from,
                   "Generated values start at N+1 (default 0, so the first value is 1)")
      ->type_name("N");
  command->add_option("--partition,-p", options->partition, "With --u64: bytes appended to each value (default empty)")
      ->type_name("STR");
  command->add_flag("--no-write,-w", options->no_write, "Do not write sent.txt (default: write it)");
  command
      ->add_option("--connect-timeout", options->connect_timeout_s,
                   "Seconds to keep retrying (every 100 ms) a receiver that refuses the connection (default 10)")
      ->type_name("SECONDS");
  command->add_flag("--report-start", options->report_start,
                    "Print `started at <CLOCK_MONOTONIC seconds>` on stderr just before the first write, once the "
                    "input is loaded and every connection is up (for timing a run without the sender's start-up)");
  command->callback([options, command] {
    validate(*options, *command);
    run_send(*options);
  });
}

}  // namespace roo::cli
