/** The help text of `concord bus-adapter`, apart so the CLI loads the bus only when it runs it. */
export const BUS_ADAPTER_HELP = `  bus-adapter [--port N [--host H] [--token T]]
                               the reference bus adapter (spec section bus-adapter) on stdio: the
                               in-process bus, or with --port the bus of the broker there
`;
