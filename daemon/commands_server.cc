// Connection and server commands: PING, AUTH, HELLO, SELECT, INFO, COMMAND, CLIENT,
// CONFIG. ECHO and QUIT are one-liners in commands.cc.
#include <xxhash.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <string>

#include "arg_parse.h"
#include "daemon/commands.h"
#include "info.h"

namespace prefixcache::daemon {
namespace {

constexpr std::string_view kWrongPass =
    "WRONGPASS invalid username-password pair or user is disabled.";

std::string WrongArity(std::string_view command, std::string_view sub) {
  std::string name(sub);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return "ERR wrong number of arguments for '" + std::string(command) + "|" + name + "' command";
}

std::string UnknownSubcommand(std::string_view sub, std::string_view command) {
  return "ERR unknown subcommand '" + std::string(sub.substr(0, 128)) + "'. Try " +
         std::string(command) + " HELP.";
}

void HelpReply(std::initializer_list<std::string_view> lines, protocol::ReplyBuilder& reply) {
  reply.ArrayHeader(lines.size());
  for (std::string_view line : lines) reply.SimpleString(line);
}

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

// Redis's stringmatchlen with nocase: '*', '?', "[...]" (ranges, '^' negation) and '\'.
bool GlobMatch(std::string_view pattern, std::string_view text) {
  std::size_t p = 0, t = 0;
  while (p < pattern.size()) {
    switch (pattern[p]) {
      case '*': {
        while (p + 1 < pattern.size() && pattern[p + 1] == '*') ++p;
        if (p + 1 == pattern.size()) return true;
        for (std::size_t k = t; k <= text.size(); ++k) {
          if (GlobMatch(pattern.substr(p + 1), text.substr(k))) return true;
        }
        return false;
      }
      case '?':
        if (t >= text.size()) return false;
        ++t;
        break;
      case '[': {
        if (t >= text.size()) return false;
        ++p;
        const bool negate = p < pattern.size() && pattern[p] == '^';
        if (negate) ++p;
        bool match = false;
        while (p < pattern.size() && pattern[p] != ']') {
          if (pattern[p] == '\\' && p + 1 < pattern.size()) {
            ++p;
            if (Lower(pattern[p]) == Lower(text[t])) match = true;
          } else if (p + 2 < pattern.size() && pattern[p + 1] == '-') {
            char lo = Lower(pattern[p]), hi = Lower(pattern[p + 2]);
            if (lo > hi) std::swap(lo, hi);
            const char c = Lower(text[t]);
            if (c >= lo && c <= hi) match = true;
            p += 2;
          } else if (Lower(pattern[p]) == Lower(text[t])) {
            match = true;
          }
          ++p;
        }
        if (match == negate) return false;
        ++t;
        break;
      }
      case '\\':
        if (p + 1 < pattern.size()) ++p;
        [[fallthrough]];
      default:
        if (t >= text.size() || Lower(pattern[p]) != Lower(text[t])) return false;
        ++t;
    }
    ++p;
  }
  return t == text.size();
}

// Redis allows client names of printable ASCII without spaces.
bool ValidClientName(std::string_view name) {
  return std::all_of(name.begin(), name.end(), [](char c) { return c > ' ' && c <= '~'; });
}

std::string ClientInfoLine(const Session& s) {
  using std::chrono::duration_cast;
  using std::chrono::seconds;
  const auto now = std::chrono::steady_clock::now();
  std::string line =
      "id=" + std::to_string(s.id) + " addr=" + s.remote_address + " laddr=" + s.local_address +
      " fd=" + std::to_string(s.fd) + " name=" + s.name +
      " age=" + std::to_string(duration_cast<seconds>(now - s.connected_at).count()) +
      " idle=" + std::to_string(duration_cast<seconds>(now - s.last_command_at).count()) +
      " flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 cmd=" + std::string(s.last_command) +
      " user=default lib-name=" + s.lib_name + " lib-ver=" + s.lib_version + " resp=2\n";
  return line;
}

}  // namespace

bool StoreCommandHandler::PasswordMatches(std::string_view password) const {
  // Compare fixed-length digests with a loop that never exits early, so the time taken does
  // not reveal how much of a guess was right (nor the password's length).
  const XXH128_hash_t want = XXH3_128bits(options_.password.data(), options_.password.size());
  const XXH128_hash_t got = XXH3_128bits(password.data(), password.size());
  volatile std::uint64_t diff = (want.high64 ^ got.high64) | (want.low64 ^ got.low64);
  return diff == 0;
}

void StoreCommandHandler::Ping(Args& args, CommandContext& ctx) {
  if (args.size() > 2) return ErrorReply(ctx, "ERR wrong number of arguments for 'ping' command");
  if (args.size() == 2) return ctx.reply().Bulk(args[1]);
  ctx.reply().SimpleString("PONG");
}

void StoreCommandHandler::Auth(Args& args, CommandContext& ctx) {
  if (args.size() > 3) return ErrorReply(ctx, "ERR syntax error");
  const bool with_user = args.size() == 3;
  if (options_.password.empty()) {
    if (!with_user) {
      return ErrorReply(ctx,
                        "ERR AUTH <password> called without any password configured for the "
                        "default user. Are you sure your configuration is correct?");
    }
    // The default user has no password: any password is accepted for it.
    if (args[1].view() == "default") return ctx.reply().SimpleString("OK");
    stats_.auth_failures.Add(1);
    return ErrorReply(ctx, kWrongPass);
  }
  const bool user_ok = !with_user || args[1].view() == "default";
  const bool password_ok = PasswordMatches(args.back().view());
  if (!user_ok || !password_ok) {
    stats_.auth_failures.Add(1);
    return ErrorReply(ctx, kWrongPass);
  }
  ctx.session().authenticated = true;
  ctx.reply().SimpleString("OK");
}

void StoreCommandHandler::Hello(Args& args, CommandContext& ctx) {
  Session& session = ctx.session();
  if (args.size() >= 2) {
    std::optional<std::int64_t> version = ParseInt64(args[1].view());
    if (!version) {
      return ErrorReply(ctx, "ERR Protocol version is not an integer or out of range");
    }
    // Only RESP2 is spoken (RESP3 would change every reply's framing).
    if (*version != 2) return ErrorReply(ctx, "NOPROTO unsupported protocol version");
  }
  const Buffer* user = nullptr;
  const Buffer* password = nullptr;
  const Buffer* name = nullptr;
  for (std::size_t i = 2; i < args.size(); ++i) {
    const std::string_view option = args[i].view();
    if (EqualsIgnoreCase(option, "AUTH") && i + 2 < args.size()) {
      user = &args[i + 1];
      password = &args[i + 2];
      i += 2;
    } else if (EqualsIgnoreCase(option, "SETNAME") && i + 1 < args.size()) {
      name = &args[i + 1];
      i += 1;
    } else {
      return ErrorReply(
          ctx, "ERR Syntax error in HELLO option '" + std::string(option.substr(0, 128)) + "'");
    }
  }
  if (user != nullptr) {
    const bool ok = user->view() == "default" &&
                    (options_.password.empty() || PasswordMatches(password->view()));
    if (!ok) {
      stats_.auth_failures.Add(1);
      return ErrorReply(ctx, kWrongPass);
    }
    session.authenticated = true;
  }
  if (!session.authenticated) {
    return ErrorReply(ctx,
                      "NOAUTH HELLO must be called with the client already authenticated, "
                      "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "
                      "authenticate the client and select the RESP protocol version at the "
                      "same time");
  }
  if (name != nullptr) {
    if (!ValidClientName(name->view())) {
      return ErrorReply(ctx,
                        "ERR Client names cannot contain spaces, newlines or special "
                        "characters.");
    }
    session.name = std::string(name->view());
  }
  protocol::ReplyBuilder& reply = ctx.reply();
  reply.ArrayHeader(14);
  reply.Bulk(std::string_view("server"));
  reply.Bulk(std::string_view("redis"));
  reply.Bulk(std::string_view("version"));
  reply.Bulk(std::string_view("7.0.0"));
  reply.Bulk(std::string_view("proto"));
  reply.Integer(2);
  reply.Bulk(std::string_view("id"));
  reply.Integer(static_cast<std::int64_t>(session.id));
  reply.Bulk(std::string_view("mode"));
  reply.Bulk(std::string_view("standalone"));
  reply.Bulk(std::string_view("role"));
  reply.Bulk(std::string_view("master"));
  reply.Bulk(std::string_view("modules"));
  reply.ArrayHeader(0);
}

void StoreCommandHandler::Select(Args& args, CommandContext& ctx) {
  std::optional<std::int64_t> index = ParseInt64(args[1].view());
  if (!index) return ErrorReply(ctx, "ERR value is not an integer or out of range");
  if (*index != 0) return ErrorReply(ctx, "ERR DB index is out of range");
  ctx.reply().SimpleString("OK");
}

void StoreCommandHandler::Info(Args& args, CommandContext& ctx) {
  std::vector<std::string> sections;
  for (std::size_t i = 1; i < args.size(); ++i) {
    std::string section(args[i].view());
    for (char& c : section) c = Lower(c);
    sections.push_back(std::move(section));
  }
  // Every source is counters read without disk I/O: answered on the I/O thread.
  InfoSources sources{server_stats_,       stats_, store_, options_.node_id, options_.config_file,
                      options_.max_clients};
  const std::string text = RenderInfo(sources, sections);
  ctx.reply().Bulk(std::string_view(text));
}

void StoreCommandHandler::Command(Args& args, CommandContext& ctx) {
  protocol::ReplyBuilder& reply = ctx.reply();
  if (args.size() == 1) {
    reply.ArrayHeader(AllCommands().size());
    for (const CommandSpec& spec : AllCommands()) WriteCommandInfo(spec, reply);
    return;
  }
  const std::string_view sub = args[1].view();
  if (EqualsIgnoreCase(sub, "COUNT")) {
    if (args.size() != 2) return ErrorReply(ctx, WrongArity("command", sub));
    return reply.Integer(static_cast<std::int64_t>(AllCommands().size()));
  }
  if (EqualsIgnoreCase(sub, "INFO")) {
    if (args.size() == 2) {
      reply.ArrayHeader(AllCommands().size());
      for (const CommandSpec& spec : AllCommands()) WriteCommandInfo(spec, reply);
      return;
    }
    reply.ArrayHeader(args.size() - 2);
    for (std::size_t i = 2; i < args.size(); ++i) {
      if (const CommandSpec* spec = FindCommand(args[i].view())) {
        WriteCommandInfo(*spec, reply);
      } else {
        reply.Nil();
      }
    }
    return;
  }
  if (EqualsIgnoreCase(sub, "DOCS")) {
    // No documentation is served; redis-cli then falls back to its built-in hints.
    return reply.ArrayHeader(0);
  }
  if (EqualsIgnoreCase(sub, "LIST")) {
    reply.ArrayHeader(AllCommands().size());
    for (const CommandSpec& spec : AllCommands()) reply.Bulk(spec.name);
    return;
  }
  if (EqualsIgnoreCase(sub, "HELP")) {
    return HelpReply({"COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                      "(no subcommand)", "    Return details about all commands.", "COUNT",
                      "    Return the total number of commands.", "DOCS [<command-name> ...]",
                      "    Return documentation (none is served).", "INFO [<command-name> ...]",
                      "    Return details about the given commands, or all.", "LIST",
                      "    Return the names of all commands."},
                     reply);
  }
  ErrorReply(ctx, UnknownSubcommand(sub, "COMMAND"));
}

void StoreCommandHandler::Client(Args& args, CommandContext& ctx) {
  protocol::ReplyBuilder& reply = ctx.reply();
  Session& session = ctx.session();
  const std::string_view sub = args[1].view();
  if (EqualsIgnoreCase(sub, "SETNAME")) {
    if (args.size() != 3) return ErrorReply(ctx, WrongArity("client", sub));
    if (!ValidClientName(args[2].view())) {
      return ErrorReply(ctx,
                        "ERR Client names cannot contain spaces, newlines or special "
                        "characters.");
    }
    session.name = std::string(args[2].view());
    return reply.SimpleString("OK");
  }
  if (EqualsIgnoreCase(sub, "GETNAME")) {
    if (args.size() != 2) return ErrorReply(ctx, WrongArity("client", sub));
    if (session.name.empty()) return reply.Nil();
    return reply.Bulk(std::string_view(session.name));
  }
  if (EqualsIgnoreCase(sub, "ID")) {
    if (args.size() != 2) return ErrorReply(ctx, WrongArity("client", sub));
    return reply.Integer(static_cast<std::int64_t>(session.id));
  }
  if (EqualsIgnoreCase(sub, "SETINFO")) {
    if (args.size() != 4) return ErrorReply(ctx, WrongArity("client", sub));
    const std::string_view attribute = args[2].view();
    if (!ValidClientName(args[3].view())) {
      return ErrorReply(ctx, "ERR " + std::string(attribute.substr(0, 32)) +
                                 " cannot contain spaces, newlines or special characters.");
    }
    if (EqualsIgnoreCase(attribute, "LIB-NAME")) {
      session.lib_name = std::string(args[3].view());
    } else if (EqualsIgnoreCase(attribute, "LIB-VER")) {
      session.lib_version = std::string(args[3].view());
    } else {
      return ErrorReply(ctx,
                        "ERR Unrecognized option '" + std::string(attribute.substr(0, 128)) + "'");
    }
    return reply.SimpleString("OK");
  }
  if (EqualsIgnoreCase(sub, "INFO")) {
    if (args.size() != 2) return ErrorReply(ctx, WrongArity("client", sub));
    const std::string line = ClientInfoLine(session);
    return reply.Bulk(std::string_view(line));
  }
  if (EqualsIgnoreCase(sub, "HELP")) {
    return HelpReply(
        {"CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", "GETNAME",
         "    Return the name of the current connection.", "ID",
         "    Return the ID of the current connection.", "INFO",
         "    Return information about the current client connection.", "SETINFO <option> <value>",
         "    Set LIB-NAME or LIB-VER of the current connection.", "SETNAME <name>",
         "    Assign the name <name> to the current connection."},
        reply);
  }
  ErrorReply(ctx, UnknownSubcommand(sub, "CLIENT"));
}

void StoreCommandHandler::Config(Args& args, CommandContext& ctx) {
  protocol::ReplyBuilder& reply = ctx.reply();
  const std::string_view sub = args[1].view();
  if (EqualsIgnoreCase(sub, "GET")) {
    if (args.size() < 3) return ErrorReply(ctx, WrongArity("config", sub));
    std::size_t matches = 0;
    auto matched = [&](const std::string& name) {
      for (std::size_t i = 2; i < args.size(); ++i) {
        if (GlobMatch(args[i].view(), name)) return true;
      }
      return false;
    };
    for (const auto& [name, value] : options_.config_values) matches += matched(name) ? 1 : 0;
    reply.ArrayHeader(2 * matches);
    for (const auto& [name, value] : options_.config_values) {
      if (!matched(name)) continue;
      reply.Bulk(std::string_view(name));
      reply.Bulk(std::string_view(value));
    }
    return;
  }
  if (EqualsIgnoreCase(sub, "SET")) {
    return ErrorReply(ctx,
                      "ERR CONFIG SET is not supported: prefixcached reads its settings from "
                      "the config file at start-up");
  }
  if (EqualsIgnoreCase(sub, "HELP")) {
    return HelpReply(
        {"CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", "GET <pattern>",
         "    Return parameters matching the glob-like <pattern> "
         "and their values."},
        reply);
  }
  ErrorReply(ctx, UnknownSubcommand(sub, "CONFIG"));
}

}  // namespace prefixcache::daemon
