//! Compiles the `.slint` files. Debug builds keep element ids and accessibility data in the
//! generated code, so the headless UI tests can find elements by their accessible labels.

fn main() {
    let debug = std::env::var("PROFILE").is_ok_and(|p| p == "debug");
    let config = slint_build::CompilerConfiguration::new()
        .with_style("fluent-light".into())
        .with_debug_info(debug);
    slint_build::compile_with_config("ui/app.slint", config).expect("the .slint files compile");
}
