#include "metrics_http_routes.hpp"

#include "dashboard_files.hpp"
#include "roo/metrics/metrics_thread.hpp"
#include "roo/metrics/prometheus_text.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <iterator>
#include <utility>

namespace roo::metrics {
namespace {

namespace http = boost::beast::http;

constexpr std::string_view prometheus_content_type = "text/plain; version=0.0.4; charset=utf-8";

HttpResponse response_of(http::status status, std::string body, std::string_view content_type) {
  HttpResponse response{status, 11};
  response.set(http::field::content_type, boost::beast::string_view(content_type.data(), content_type.size()));
  response.body() = std::move(body);
  return response;
}

/// The JSON API's answers change every period: no cache may keep one.
HttpResponse json_response(std::string body) {
  HttpResponse response = response_of(http::status::ok, std::move(body), "application/json");
  response.set(http::field::cache_control, "no-store");
  return response;
}

}  // namespace

HttpResponse text_response(http::status status, std::string body) {
  return response_of(status, std::move(body), "text/plain; charset=utf-8");
}

MetricsHttpRoutes::MetricsHttpRoutes(MetricsThread& metrics, std::filesystem::path dashboard_dir)
    : metrics_(metrics), dashboard_dir_(std::move(dashboard_dir)) {}

void MetricsHttpRoutes::answer(const HttpRequest& request, const Reply& reply) const {
  if (request.method() != http::verb::get && request.method() != http::verb::head) {
    HttpResponse response = text_response(http::status::method_not_allowed, "method not allowed: use GET or HEAD\n");
    response.set(http::field::allow, "GET, HEAD");
    reply(std::move(response));
    return;
  }
  std::string_view path(request.target().data(), request.target().size());
  path = path.substr(0, path.find('?'));
  if (path == "/metrics") {
    reply(response_of(http::status::ok, prometheus_text(metrics_.latest()), prometheus_content_type));
  } else if (path == "/healthz") {
    reply(text_response(http::status::ok, "ok\n"));
  } else if (path == "/readyz") {
    bool ready = !metrics_.hooks().ready || metrics_.hooks().ready();
    reply(ready ? text_response(http::status::ok, "ready\n")
                : text_response(http::status::service_unavailable, "not ready\n"));
  } else if (path == "/api/worker") {
    reply(json_response(metrics_.latest_json()));
  } else if (path == "/api/cluster") {
    metrics_.cluster([reply](ClusterMetrics cluster) { reply(json_response(nlohmann::json(cluster).dump())); });
  } else {
    reply(dashboard_file(path));
  }
}

HttpResponse MetricsHttpRoutes::dashboard_file(std::string_view path) const {
  std::optional<DashboardFile> file = find_dashboard_file(dashboard_dir_, path);
  if (!file) {
    return text_response(http::status::not_found, "not found\n");
  }
  std::ifstream in(file->path, std::ios::binary);
  std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) {
    return text_response(http::status::internal_server_error, "cannot read " + file->path.filename().string() + "\n");
  }
  HttpResponse response = response_of(http::status::ok, std::move(body), file->content_type);
  // Browsers ask again each time (the files are small), so a Roo installed over another serves its own at once.
  response.set(http::field::cache_control, "no-cache");
  return response;
}

}  // namespace roo::metrics
