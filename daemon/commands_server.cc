// Connection and server commands: PING, ECHO, AUTH, HELLO, SELECT, QUIT, INFO, and COMMAND,
// CLIENT and CONFIG with their subcommands.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <string>

#include "command_env.h"
#include "info.h"
#include "protocol/resp_integer.h"

namespace prefixcache::daemon {
namespace {

constexpr std::string_view kWrongPass =
    "WRONGPASS invalid username-password pair or user is disabled.";

std::string WrongArity(std::string_view command, std::string_view sub) {
  std::string name(sub);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return "ERR wrong number of arguments for '" + std::string(command) + "|" + name + "' command";
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

// Redis 7.2's CLIENT INFO line, its fields in Redis's order. Buffer sizes the connection
// does not expose to the handler (qbuf, rbs, obl, omem, tot-mem, ...) read 0.
std::string ClientInfoLine(Session& s) {
  using std::chrono::duration_cast;
  using std::chrono::seconds;
  const auto now = std::chrono::steady_clock::now();
  const TransactionInfo transaction = TransactionInfoOf(s);
  std::string line =
      "id=" + std::to_string(s.id) + " addr=" + s.remote_address + " laddr=" + s.local_address +
      " fd=" + std::to_string(s.fd) + " name=" + s.name +
      " age=" + std::to_string(duration_cast<seconds>(now - s.connected_at).count()) +
      " idle=" + std::to_string(duration_cast<seconds>(now - s.last_command_at).count()) +
      " flags=" + (transaction.queued >= 0 ? "x" : "N") +
      " db=0 sub=0 psub=0 ssub=0 multi=" + std::to_string(transaction.queued) +
      " qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=" + std::to_string(transaction.bytes) +
      " rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=" + std::string(s.last_command) +
      " user=default redir=-1 resp=" + std::to_string(s.protocol) + " lib-name=" + s.lib_name +
      " lib-ver=" + s.lib_version + "\n";
  return line;
}

bool PasswordMatches(const CommandEnv& env, std::string_view password) {
  return env.password.Matches(password);
}

void Ping(CommandEnv& env, Args& args, CommandContext& ctx) {
  if (args.size() > 2)
    return env.ErrorReply(ctx, "ERR wrong number of arguments for 'ping' command");
  if (args.size() == 2) return ctx.reply().Bulk(args[1]);
  ctx.reply().SimpleString("PONG");
}

void Auth(CommandEnv& env, Args& args, CommandContext& ctx) {
  if (args.size() > 3) return env.ErrorReply(ctx, "ERR syntax error");
  const bool with_user = args.size() == 3;
  if (env.options.password.empty()) {
    if (!with_user) {
      return env.ErrorReply(ctx,
                            "ERR AUTH <password> called without any password configured for the "
                            "default user. Are you sure your configuration is correct?");
    }
    // The default user has no password: any password is accepted for it.
    if (args[1].view() == "default") return ctx.reply().SimpleString("OK");
    env.stats.auth_failures.Add(1);
    return env.ErrorReply(ctx, kWrongPass);
  }
  const bool user_ok = !with_user || args[1].view() == "default";
  const bool password_ok = PasswordMatches(env, args.back().view());
  if (!user_ok || !password_ok) {
    env.stats.auth_failures.Add(1);
    return env.ErrorReply(ctx, kWrongPass);
  }
  ctx.session().authenticated = true;
  ctx.reply().SimpleString("OK");
}

// CLIENT SETNAME and HELLO SETNAME: sets the name, or replies Redis's error for a name
// it refuses and returns false.
bool SetClientName(CommandEnv& env, std::string_view name, CommandContext& ctx) {
  if (!ValidClientName(name)) {
    env.ErrorReply(ctx, "ERR Client names cannot contain spaces, newlines or special characters.");
    return false;
  }
  ctx.session().name = std::string(name);
  return true;
}

void Hello(CommandEnv& env, Args& args, CommandContext& ctx) {
  Session& session = ctx.session();
  int protover = session.protocol;
  if (args.size() >= 2) {
    std::optional<std::int64_t> version = protocol::ParseInteger(args[1].view());
    if (!version) {
      return env.ErrorReply(ctx, "ERR Protocol version is not an integer or out of range");
    }
    if (*version != 2 && *version != 3) {
      return env.ErrorReply(ctx, "NOPROTO unsupported protocol version");
    }
    protover = static_cast<int>(*version);
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
      return env.ErrorReply(
          ctx, "ERR Syntax error in HELLO option '" + std::string(option.substr(0, 128)) + "'");
    }
  }
  if (user != nullptr) {
    const bool ok = user->view() == "default" &&
                    (env.options.password.empty() || PasswordMatches(env, password->view()));
    if (!ok) {
      env.stats.auth_failures.Add(1);
      return env.ErrorReply(ctx, kWrongPass);
    }
    session.authenticated = true;
  }
  if (!session.authenticated) {
    return env.ErrorReply(ctx,
                          "NOAUTH HELLO must be called with the client already authenticated, "
                          "otherwise the HELLO AUTH <user> <pass> option can be used to "
                          "authenticate the client and select the RESP protocol version at the "
                          "same time");
  }
  if (name != nullptr && !SetClientName(env, name->view(), ctx)) return;
  // The reply comes in the protocol chosen, as in Redis.
  session.protocol = protover;
  protocol::ReplyBuilder& reply = ctx.reply();
  reply.SetResp3(session.protocol == 3);
  reply.MapHeader(7);
  reply.Bulk(std::string_view("server"));
  reply.Bulk(std::string_view("redis"));
  reply.Bulk(std::string_view("version"));
  reply.Bulk(kRedisVersion);
  reply.Bulk(std::string_view("proto"));
  reply.Integer(session.protocol);
  reply.Bulk(std::string_view("id"));
  reply.Integer(static_cast<std::int64_t>(session.id));
  reply.Bulk(std::string_view("mode"));
  reply.Bulk(std::string_view("standalone"));
  reply.Bulk(std::string_view("role"));
  reply.Bulk(std::string_view("master"));
  reply.Bulk(std::string_view("modules"));
  reply.ArrayHeader(0);
}

void Select(CommandEnv& env, Args& args, CommandContext& ctx) {
  std::optional<std::int64_t> index = protocol::ParseInteger(args[1].view());
  if (!index) return env.ErrorReply(ctx, "ERR value is not an integer or out of range");
  if (*index != 0) return env.ErrorReply(ctx, "ERR DB index is out of range");
  ctx.reply().SimpleString("OK");
}

void Info(CommandEnv& env, Args& args, CommandContext& ctx) {
  std::vector<std::string> sections;
  for (std::size_t i = 1; i < args.size(); ++i) {
    std::string section(args[i].view());
    for (char& c : section) c = Lower(c);
    sections.push_back(std::move(section));
  }
  // Every source is counters read without disk I/O: answered on the I/O thread.
  InfoSources sources{
      env.server_stats,       env.stats, env.store, env.options.node_id, env.options.config_file,
      env.options.max_clients};
  const std::string text = RenderInfo(sources, sections);
  ctx.reply().Verbatim(text);
}

void Echo(CommandEnv&, Args& args, CommandContext& ctx) { ctx.reply().Bulk(args[1]); }

void Quit(CommandEnv&, Args&, CommandContext& ctx) {
  ctx.session().close_after_reply = true;
  ctx.reply().SimpleString("OK");
}

// A subcommand of COMMAND, CLIENT or CONFIG. `name` matches in any case; `arity` counts
// the command and the subcommand as for commands (N exactly, -N at least N). `usage`
// and `help` are its two HELP lines; a subcommand without usage is left out of HELP, and
// an entry without name is a HELP entry only.
struct Subcommand {
  std::string_view name;
  int arity;
  std::string_view usage;
  std::string_view help;
  CommandFn run;
};

std::string Upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Runs the subcommand args[1] of `command` (its lowercase name) from `table`; answers HELP
// from the table, and the errors of a wrong arity and an unknown subcommand, as Redis.
void RunSubcommand(std::string_view command, std::span<const Subcommand> table, CommandEnv& env,
                   Args& args, CommandContext& ctx) {
  const std::string_view sub = args[1].view();
  const std::string upper = Upper(command);
  if (EqualsIgnoreCase(sub, "HELP")) {
    protocol::ReplyBuilder& reply = ctx.reply();
    const auto listed = std::count_if(table.begin(), table.end(),
                                      [](const Subcommand& s) { return !s.usage.empty(); });
    reply.ArrayHeader(1 + 2 * static_cast<std::size_t>(listed));
    reply.SimpleString(upper + " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    for (const Subcommand& s : table) {
      if (s.usage.empty()) continue;
      reply.SimpleString(s.usage);
      reply.SimpleString("    " + std::string(s.help));
    }
    return;
  }
  for (const Subcommand& s : table) {
    if (s.name.empty() || !EqualsIgnoreCase(sub, s.name)) continue;
    if (!ArityOk(s.arity, args.size())) return env.ErrorReply(ctx, WrongArity(command, sub));
    return s.run(env, args, ctx);
  }
  env.ErrorReply(ctx, "ERR unknown subcommand '" + std::string(sub.substr(0, 128)) + "'. Try " +
                          upper + " HELP.");
}

void CommandInfoOf(std::span<const Buffer> names, protocol::ReplyBuilder& reply) {
  reply.ArrayHeader(names.size());
  for (const Buffer& name : names) {
    if (const CommandSpec* spec = FindCommand(name.view())) {
      WriteCommandInfo(*spec, reply);
    } else {
      reply.Nil();
    }
  }
}

void AllCommandInfo(protocol::ReplyBuilder& reply) {
  reply.ArrayHeader(AllCommands().size());
  for (const CommandSpec& spec : AllCommands()) WriteCommandInfo(spec, reply);
}

constexpr Subcommand kCommandSubcommands[] = {
    {"", -1, "(no subcommand)", "Return details about all commands.", nullptr},
    {"COUNT", 2, "COUNT", "Return the total number of commands.",
     [](CommandEnv&, Args&, CommandContext& ctx) {
       ctx.reply().Integer(static_cast<std::int64_t>(AllCommands().size()));
     }},
    {"DOCS", -2, "DOCS [<command-name> ...]", "Return documentation (none is served).",
     // No documentation is served; redis-cli then falls back to its built-in hints.
     [](CommandEnv&, Args&, CommandContext& ctx) { ctx.reply().MapHeader(0); }},
    {"INFO", -2, "INFO [<command-name> ...]", "Return details about the given commands, or all.",
     [](CommandEnv&, Args& args, CommandContext& ctx) {
       if (args.size() == 2) return AllCommandInfo(ctx.reply());
       CommandInfoOf(std::span(args).subspan(2), ctx.reply());
     }},
    {"LIST", -2, "LIST", "Return the names of all commands.",
     [](CommandEnv&, Args&, CommandContext& ctx) {
       ctx.reply().ArrayHeader(AllCommands().size());
       for (const CommandSpec& spec : AllCommands()) ctx.reply().Bulk(spec.name);
     }},
};

void Command(CommandEnv& env, Args& args, CommandContext& ctx) {
  if (args.size() == 1) return AllCommandInfo(ctx.reply());
  RunSubcommand("command", kCommandSubcommands, env, args, ctx);
}

void ClientSetinfo(CommandEnv& env, Args& args, CommandContext& ctx) {
  Session& session = ctx.session();
  const std::string_view attribute = args[2].view();
  if (!ValidClientName(args[3].view())) {
    return env.ErrorReply(ctx, "ERR " + std::string(attribute.substr(0, 32)) +
                                   " cannot contain spaces, newlines or special characters.");
  }
  if (EqualsIgnoreCase(attribute, "LIB-NAME")) {
    session.lib_name = std::string(args[3].view());
  } else if (EqualsIgnoreCase(attribute, "LIB-VER")) {
    session.lib_version = std::string(args[3].view());
  } else {
    return env.ErrorReply(
        ctx, "ERR Unrecognized option '" + std::string(attribute.substr(0, 128)) + "'");
  }
  ctx.reply().SimpleString("OK");
}

// CLIENT subcommands about other connections or client-side caching (not in HELP).
void ClientRefused(CommandEnv& env, Args& args, CommandContext& ctx) {
  env.ErrorReply(ctx, "ERR CLIENT " + Upper(args[1].view().substr(0, 32)) +
                          " is not supported: prefixcache keeps no registry of connections and "
                          "does no client-side caching (CLIENT INFO describes this one, INFO "
                          "clients counts them)");
}

constexpr Subcommand kClientSubcommands[] = {
    {"GETNAME", 2, "GETNAME", "Return the name of the current connection.",
     [](CommandEnv&, Args&, CommandContext& ctx) {
       const std::string& name = ctx.session().name;
       if (name.empty()) return ctx.reply().Nil();
       ctx.reply().Bulk(std::string_view(name));
     }},
    {"ID", 2, "ID", "Return the ID of the current connection.",
     [](CommandEnv&, Args&, CommandContext& ctx) {
       ctx.reply().Integer(static_cast<std::int64_t>(ctx.session().id));
     }},
    {"INFO", 2, "INFO", "Return information about the current client connection.",
     [](CommandEnv&, Args&, CommandContext& ctx) {
       const std::string line = ClientInfoLine(ctx.session());
       ctx.reply().Verbatim(line);
     }},
    {"SETINFO", 4, "SETINFO <option> <value>", "Set LIB-NAME or LIB-VER of the current connection.",
     ClientSetinfo},
    {"SETNAME", 3, "SETNAME <name>", "Assign the name <name> to the current connection.",
     [](CommandEnv& env, Args& args, CommandContext& ctx) {
       if (SetClientName(env, args[2].view(), ctx)) ctx.reply().SimpleString("OK");
     }},
    {"LIST", -2, "", "", ClientRefused},
    {"KILL", -3, "", "", ClientRefused},
    {"PAUSE", -3, "", "", ClientRefused},
    {"UNPAUSE", 2, "", "", ClientRefused},
    {"UNBLOCK", -3, "", "", ClientRefused},
    {"REPLY", 3, "", "", ClientRefused},
    {"TRACKING", -3, "", "", ClientRefused},
    {"TRACKINGINFO", 2, "", "", ClientRefused},
    {"CACHING", 3, "", "", ClientRefused},
    {"GETREDIR", 2, "", "", ClientRefused},
    {"NO-EVICT", 3, "", "", ClientRefused},
};

void Client(CommandEnv& env, Args& args, CommandContext& ctx) {
  RunSubcommand("client", kClientSubcommands, env, args, ctx);
}

void ConfigGet(CommandEnv& env, Args& args, CommandContext& ctx) {
  const auto patterns = std::span(args).subspan(2);
  auto matched = [&](const std::string& name) {
    return std::any_of(patterns.begin(), patterns.end(),
                       [&](const Buffer& pattern) { return GlobMatch(pattern.view(), name); });
  };
  const auto& values = env.options.config_values;
  const auto matches = std::count_if(values.begin(), values.end(),
                                     [&](const auto& entry) { return matched(entry.first); });
  protocol::ReplyBuilder& reply = ctx.reply();
  reply.MapHeader(static_cast<std::size_t>(matches));
  for (const auto& [name, value] : values) {
    if (!matched(name)) continue;
    reply.Bulk(std::string_view(name));
    reply.Bulk(std::string_view(value));
  }
}

void ConfigRefused(CommandEnv& env, Args& args, CommandContext& ctx) {
  env.ErrorReply(ctx, "ERR CONFIG " + Upper(args[1].view().substr(0, 32)) +
                          " is not supported: prefixcached reads its settings from the config "
                          "file at start-up");
}

constexpr Subcommand kConfigSubcommands[] = {
    {"GET", -3, "GET <pattern>",
     "Return parameters matching the glob-like <pattern> and their values.", ConfigGet},
    {"SET", -2, "", "", ConfigRefused},
    {"RESETSTAT", 2, "", "", ConfigRefused},
    {"REWRITE", 2, "", "", ConfigRefused},
};

void Config(CommandEnv& env, Args& args, CommandContext& ctx) {
  RunSubcommand("config", kConfigSubcommands, env, args, ctx);
}

constexpr CommandBinding kServerCommands[] = {
    {CommandId::kPing, Ping},     {CommandId::kEcho, Echo},       {CommandId::kAuth, Auth},
    {CommandId::kHello, Hello},   {CommandId::kSelect, Select},   {CommandId::kQuit, Quit},
    {CommandId::kInfo, Info},     {CommandId::kCommand, Command}, {CommandId::kClient, Client},
    {CommandId::kConfig, Config},
};

}  // namespace

std::span<const CommandBinding> ServerCommands() { return kServerCommands; }

}  // namespace prefixcache::daemon
