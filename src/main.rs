fn main() {
    println!("nines");
}
