// placeholder replaced below
enum EscapeProbe {
    static func runInside(_ arguments: [String]) -> Int32 { 2 }
}
