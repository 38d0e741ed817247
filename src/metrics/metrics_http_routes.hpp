#pragma once

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace roo::metrics {

class MetricsThread;

/// Requests carry no body (the server refuses one); every answer is a whole string.
using HttpRequest = boost::beast::http::request<boost::beast::http::empty_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

/// What the metrics endpoint answers (docs/metrics.md, "The HTTP endpoint"): /metrics (Prometheus), /healthz,
/// /readyz, /api/worker, /api/cluster, and the dashboard's files for any other path; 404 for what is none of
/// them, 405 for a method other than GET and HEAD. Answers carry status, headers and body; the connection sets the
/// version, keep-alive and length. Runs on the metrics thread; the MetricsThread outlives it.
class MetricsHttpRoutes {
 public:
  using Reply = std::function<void(HttpResponse)>;

  MetricsHttpRoutes(MetricsThread& metrics, std::filesystem::path dashboard_dir);

  /// Answers `request` through `reply`: at once, or (/api/cluster, gathered from every worker) later, on the
  /// metrics thread.
  void answer(const HttpRequest& request, const Reply& reply) const;

 private:
  [[nodiscard]] HttpResponse dashboard_file(std::string_view path) const;

  MetricsThread& metrics_;
  std::filesystem::path dashboard_dir_;
};

/// A plain-text answer (errors, /healthz, /readyz).
[[nodiscard]] HttpResponse text_response(boost::beast::http::status status, std::string body);

}  // namespace roo::metrics
