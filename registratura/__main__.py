from registratura.cli import main

main()
