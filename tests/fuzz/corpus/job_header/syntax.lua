job{ name = 'a' 
end