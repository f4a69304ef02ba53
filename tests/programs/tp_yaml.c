/* libyaml's run-parser-test-suite on a parse error (issue 10): main parses a document with two
 * %TAG directives until the parser fails, then returns 1 without yaml_parser_delete. The parser
 * object lives in main's frame, so after main returns every block it owns is leaked: its
 * buffers, its stacks (the tag-directive stack is 256 B) and, indirectly, the copies of the tag
 * handles and prefixes. `tp_yaml FILE`; FILE is written by the test (see test_interior.cpp). */
#include <yaml.h>

#include <stdio.h>

int main(int argc, char** argv)
{
    if (argc < 2) return 2;
    FILE* input = fopen(argv[1], "rb");
    if (input == NULL) return 3;
    yaml_parser_t parser;
    yaml_event_t event;
    if (!yaml_parser_initialize(&parser)) return 4;
    yaml_parser_set_input_file(&parser, input);
    for (;;) {
        if (!yaml_parser_parse(&parser, &event)) {
            fprintf(stderr, "Parse error: %s\n", parser.problem);
            return 1; /* as run-parser-test-suite does: no yaml_parser_delete */
        }
        const int end = event.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&event);
        if (end) break;
    }
    yaml_parser_delete(&parser);
    fclose(input);
    return 0;
}
