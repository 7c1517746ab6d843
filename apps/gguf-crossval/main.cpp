// gguf-crossval: validate GGUF files and cross-check them against the readers that consume them.
#include <fmt/format.h>
#include <vector>

#include "command.hpp"

int main(int argc, char** argv) {
    CLI::App app{"gguf-crossval: validate GGUF model files and check that every reader, above all llama.cpp, "
                 "reads them the same way"};
    app.require_subcommand(1);
    app.footer("Run 'gguf-crossval SUBCOMMAND --help' for each subcommand's options.");
    const std::vector<cli::Command> commands{
        cli::add_gen_mini(app),
        cli::add_validate(app),
        cli::add_inspect(app),
        cli::add_diff(app),
        cli::add_crossval(app),
        cli::add_full_crossval(app),
        cli::add_gen_model(app),
        cli::add_gen_corpus(app),
        cli::add_matrix(app),
        cli::add_merge(app),
    };
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return cli::kUsage;
    }
    for (const auto& c : commands) {
        if (c.app->parsed()) return c.run();
    }
    return cli::kUsage;
}
