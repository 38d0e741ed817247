#pragma once

#include <stdexcept>
#include <string>

namespace roo::core {

/// A failure that stops what the user asked for: a bad config, an unbindable port, a missing module.
/// The message is the whole user-facing sentence after "unable to ", e.g.
/// "listen on 127.0.0.1:7010 for source 'votes' (--in): address already in use".
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The user asked for something malformed (a flag, an address, an app that describes no pipeline).
/// The command line reports it in one line and exits with code 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

}  // namespace roo::core
